//! The HTTP client of `verdict upload`: API calls and presigned PUTs, with the retries a CI job
//! needs (a 429, a 5xx or a dropped connection is tried again, backing off).

use serde_json::Value;
use std::time::Duration;

/// Where the API is and the token to call it with, as `verdict upload` and `verdict report` take
/// them.
#[derive(clap::Args)]
pub(crate) struct ApiArgs {
    /// Verdict's API, e.g. https://verdict.example.com
    #[arg(long, env = "VERDICT_ENDPOINT")]
    pub(crate) endpoint: String,
    /// A token of the project (an upload token in CI).
    #[arg(long, env = "VERDICT_TOKEN", hide_env_values = true)]
    pub(crate) token: String,
}

/// The Verdict API as one project's token sees it.
pub(crate) struct Client {
    pub(crate) agent: ureq::Agent,
    pub(crate) endpoint: String,
    pub(crate) token: String,
}

/// An API failure: its message and whether a retry may help.
pub(crate) struct Failure {
    message: String,
    retry: bool,
}

impl Client {
    /// A client whose every request gives up after `timeout`.
    pub(crate) fn new(api: &ApiArgs, timeout: Duration) -> Client {
        Client {
            agent: ureq::Agent::new_with_config(
                ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(timeout))
                    .build(),
            ),
            endpoint: api.endpoint.clone(),
            token: api.token.clone(),
        }
    }

    /// A JSON request to the API (`POST` with a body, else `GET`).
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.endpoint.trim_end_matches('/'));
        let auth = format!("Bearer {}", self.token);
        let result = match (method, body) {
            ("POST", Some(body)) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(body),
            _ => self.agent.get(&url).header("Authorization", &auth).call(),
        };
        let mut response = result.map_err(|e| Failure {
            message: format!("{url}: {e}"),
            retry: true,
        })?;
        let status = response.status().as_u16();
        let value: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            Err(refused(method, path, status, &value))
        }
    }

    /// A GET whose answer is not JSON (an export), as text.
    pub(crate) fn get_text(&self, path: &str) -> Result<String, Failure> {
        let url = format!("{}{path}", self.endpoint.trim_end_matches('/'));
        let mut response = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(|e| Failure {
                message: format!("{url}: {e}"),
                retry: true,
            })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| Failure {
                message: format!("{url}: {e}"),
                retry: true,
            })?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            let value = serde_json::from_str(&text).unwrap_or(Value::Null);
            Err(refused("GET", path, status, &value))
        }
    }

    /// The bytes of a presigned upload, with the headers it signs.
    pub(crate) fn put(&self, url: &str, headers: &Value, bytes: &[u8]) -> Result<(), Failure> {
        let mut request = self.agent.put(url);
        for (k, v) in headers.as_object().into_iter().flatten() {
            if let Some(v) = v.as_str() {
                if !k.eq_ignore_ascii_case("content-length") {
                    request = request.header(k, v);
                }
            }
        }
        let mut response = request.send(bytes).map_err(|e| Failure {
            message: format!("PUT to the presigned URL: {e}"),
            retry: true,
        })?;
        let status = response.status().as_u16();
        // 412: the URL signs `If-None-Match: *` for one fresh registration, so an object there
        // was stored by an earlier attempt whose response was lost.
        if (200..300).contains(&status) || status == 412 {
            return Ok(());
        }
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Err(Failure {
            message: format!("PUT to the presigned URL: {status} {}", text.trim()),
            retry: status >= 500,
        })
    }
}

/// The API said no: its message, and whether trying again may help (429, 5xx).
fn refused(method: &str, path: &str, status: u16, answer: &Value) -> Failure {
    Failure {
        message: format!(
            "{method} {path}: {status} {}",
            answer["error"]["message"]
                .as_str()
                .unwrap_or("(no message)")
        ),
        retry: status == 429 || status >= 500,
    }
}

/// Runs `attempt` up to 4 times while it fails with a retryable error, backing off.
pub(crate) fn with_retries<T>(
    mut attempt: impl FnMut() -> Result<T, Failure>,
) -> Result<T, String> {
    let mut delay = Duration::from_millis(500);
    for _ in 0..3 {
        match attempt() {
            Err(f) if f.retry => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            other => return other.map_err(|f| f.message),
        }
    }
    attempt().map_err(|f| f.message)
}
