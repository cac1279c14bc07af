//! Builds the dashboard's files (`ui/dist`, made by `make ui`) into the binary: each file's
//! bytes, gzipped bytes, content type and ETag, as a table in `$OUT_DIR/assets.rs`.

use flate2::{write::GzEncoder, Compression};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("ui")
        .join("dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    if !dist.join("index.html").is_file() {
        panic!(
            "{} has no index.html: build the dashboard first with `make ui` \
             (npm ci and npm run build in functions/web/ui)",
            dist.display()
        );
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut files = Vec::new();
    collect(&dist, &mut files);
    files.sort();
    let mut table = String::from("&[\n");
    for (i, file) in files.iter().enumerate() {
        println!("cargo:rerun-if-changed={}", file.display());
        let bytes = std::fs::read(file).expect("a file of ui/dist");
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&bytes).expect("gzip in memory");
        let gzipped = gz.finish().expect("gzip in memory");
        let gz_path = out.join(format!("asset-{i}.gz"));
        std::fs::write(&gz_path, &gzipped).expect("OUT_DIR is writable");
        let path = file.strip_prefix(&dist).expect("under dist");
        let url = format!("/{}", path.to_string_lossy().replace('\\', "/"));
        let etag = hex::encode(&Sha256::digest(&bytes)[..12]);
        table.push_str(&format!(
            "    Asset {{ path: {url:?}, content_type: {:?}, etag: \"\\\"{etag}\\\"\", bytes: include_bytes!({:?}), gzipped: include_bytes!({:?}) }},\n",
            content_type(&url),
            file.display().to_string(),
            gz_path.display().to_string(),
        ));
    }
    table.push(']');
    std::fs::write(out.join("assets.rs"), table).expect("OUT_DIR is writable");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("ui/dist is readable") {
        let path = entry.expect("ui/dist is readable").path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}
