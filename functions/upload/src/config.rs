//! What the upload function accepts: limits, set from the environment on Lambda.

use std::time::Duration;

/// What the function accepts; set from the environment on Lambda.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest declared size of a presigned upload (`VERDICT_MAX_UPLOAD_BYTES`, default 1 GiB).
    pub max_upload_bytes: u64,
    /// Largest body of a direct upload (5 MB: Lambda's 6 MB payload limit leaves room).
    pub max_direct_bytes: usize,
    /// How long a presigned URL lives (at most 15 minutes).
    pub presign_ttl: Duration,
    /// Requests per project per minute (`VERDICT_RATE_PER_MINUTE`, default 600).
    pub rate_per_minute: u32,
    /// Longest `?wait=` honoured, in seconds.
    pub max_wait_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_upload_bytes: 1 << 30,
            max_direct_bytes: 5 * 1000 * 1000,
            presign_ttl: Duration::from_secs(15 * 60),
            rate_per_minute: 600,
            max_wait_seconds: 30,
        }
    }
}

impl Limits {
    /// The defaults, with `VERDICT_MAX_UPLOAD_BYTES` and `VERDICT_RATE_PER_MINUTE` if set.
    pub fn from_env() -> Result<Limits, String> {
        let mut limits = Limits::default();
        let number = |name: &str| -> Result<Option<u64>, String> {
            std::env::var(name)
                .ok()
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("{name}={v:?} is not a number"))
                })
                .transpose()
        };
        if let Some(v) = number("VERDICT_MAX_UPLOAD_BYTES")? {
            limits.max_upload_bytes = v;
        }
        if let Some(v) = number("VERDICT_RATE_PER_MINUTE")? {
            limits.rate_per_minute = u32::try_from(v).map_err(|e| e.to_string())?;
        }
        Ok(limits)
    }
}
