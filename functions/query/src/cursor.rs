//! Opaque pagination cursors: the store's continuation key, bound to the project and the query
//! (path and filters) by an HMAC-SHA256, so a cursor cannot be forged, nor replayed against
//! another project or another filter.

use sha2::{Digest, Sha256};

/// The secret that signs cursors (`VERDICT_CURSOR_KEY`, 64 hex digits).
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(…)")
    }
}

impl CursorKey {
    /// A key of these bytes.
    pub fn new(bytes: [u8; 32]) -> CursorKey {
        CursorKey(bytes)
    }

    /// The key of `VERDICT_CURSOR_KEY` (64 hex digits).
    pub fn from_env() -> Result<CursorKey, String> {
        let hex_key = std::env::var("VERDICT_CURSOR_KEY")
            .map_err(|_| "VERDICT_CURSOR_KEY is not set (64 hex digits)".to_string())?;
        let bytes = hex::decode(hex_key.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or("VERDICT_CURSOR_KEY must be 64 hex digits")?;
        Ok(CursorKey(bytes))
    }

    fn mac(&self, message: &[u8]) -> [u8; 32] {
        // HMAC (RFC 2104) over SHA-256, block size 64.
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&self.0);
        let pad = |byte: u8| key.map(|k| k ^ byte);
        let inner = Sha256::new()
            .chain_update(pad(0x36))
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize()
            .into()
    }

    /// `scope` names the project and the query (path and filters).
    pub fn seal(&self, scope: &str, next: &serde_json::Value) -> String {
        let payload = hex::encode(next.to_string());
        let mac = self.mac(format!("{scope}\n{payload}").as_bytes());
        format!("{payload}.{}", hex::encode(&mac[..16]))
    }

    /// The continuation of a cursor made by [`CursorKey::seal`] for the same scope.
    pub fn open(&self, scope: &str, cursor: &str) -> Option<serde_json::Value> {
        let (payload, mac) = cursor.split_once('.')?;
        let expected = self.mac(format!("{scope}\n{payload}").as_bytes());
        let given = hex::decode(mac).ok()?;
        let same = given.len() == 16
            && given
                .iter()
                .zip(&expected[..16])
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return None;
        }
        serde_json::from_slice(&hex::decode(payload).ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_in_its_own_scope_and_unaltered() {
        let key = CursorKey::new([7; 32]);
        let next = serde_json::json!({"pk": "R#a#b", "sk": "T#1"});
        let cursor = key.seal("acme GET /v1/runs branch=main", &next);
        assert_eq!(
            key.open("acme GET /v1/runs branch=main", &cursor),
            Some(next)
        );
        assert_eq!(key.open("other GET /v1/runs branch=main", &cursor), None);
        assert_eq!(key.open("acme GET /v1/runs branch=dev", &cursor), None);
        let mut tampered = cursor.clone();
        tampered.replace_range(0..2, "00");
        assert_eq!(key.open("acme GET /v1/runs branch=main", &tampered), None);
        assert_eq!(
            CursorKey::new([8; 32]).open("acme GET /v1/runs branch=main", &cursor),
            None
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_test_case_2_shape() {
        // RFC 4231 case 2 uses a 4-byte key; ours pads any key to the block the same way.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = CursorKey(key).mac(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
