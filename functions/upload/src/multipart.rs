//! A `multipart/form-data` body split into its parts (RFC 7578): enough for CI clients that
//! send report files and text fields; the whole body is in memory already (≤ 5 MB).

use memchr::memmem;

#[derive(Debug)]
pub(crate) struct Part<'a> {
    pub name: String,
    pub filename: Option<String>,
    pub body: &'a [u8],
}

/// The boundary of a `multipart/form-data` content type.
pub(crate) fn boundary(content_type: &str) -> Option<&str> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim_matches('"'))
            .filter(|v| !v.is_empty())
    })
}

/// The parts of `body`, or why it is not valid multipart.
pub(crate) fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, String> {
    let delimiter = format!("--{boundary}");
    let finder = memmem::Finder::new(delimiter.as_bytes());
    let mut positions = finder.find_iter(body).peekable();
    let mut parts = Vec::new();
    let Some(mut start) = positions.next() else {
        return Err("no boundary found in the body".into());
    };
    loop {
        let after = start + delimiter.len();
        if body[after..].starts_with(b"--") {
            return Ok(parts);
        }
        let Some(next) = positions.next() else {
            return Err("the body ends without the closing boundary".into());
        };
        let chunk = body[after..next]
            .strip_prefix(b"\r\n")
            .ok_or("a boundary is not followed by a line break")?;
        let chunk = chunk.strip_suffix(b"\r\n").unwrap_or(chunk);
        let split = memmem::find(chunk, b"\r\n\r\n").ok_or("a part has no header end")?;
        let headers =
            std::str::from_utf8(&chunk[..split]).map_err(|_| "part headers are not UTF-8")?;
        let (mut name, mut filename) = (None, None);
        for line in headers.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("content-disposition") {
                continue;
            }
            for param in value.split(';').skip(1) {
                if let Some((k, v)) = param.trim().split_once('=') {
                    let v = v.trim().trim_matches('"').to_string();
                    match k.trim() {
                        "name" => name = Some(v),
                        "filename" => filename = Some(v),
                        _ => {}
                    }
                }
            }
        }
        parts.push(Part {
            name: name.ok_or("a part has no name")?,
            filename,
            body: &chunk[split + 4..],
        });
        start = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_fields_and_files_and_rejects_a_missing_end() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"branch\"\r\n\r\nmain\r\n--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.xml\"\r\nContent-Type: application/xml\r\n\r\n<a>\r\n--x</a>\r\n--xyz--\r\n";
        let parts = parse(body, "xyz").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].body),
            ("branch", &b"main"[..])
        );
        assert_eq!(parts[1].filename.as_deref(), Some("a.xml"));
        assert_eq!(parts[1].body, b"<a>\r\n--x</a>");
        assert!(parse(&body[..body.len() - 9], "xyz").is_err());
        assert_eq!(
            boundary("multipart/form-data; boundary=\"xyz\""),
            Some("xyz")
        );
        assert_eq!(boundary("application/json"), None);
    }
}
