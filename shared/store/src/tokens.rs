//! Project tokens. A token is `vdt_` followed by 64 hex digits (256 random bits), shown once
//! when created and stored only as its SHA-256. Two items per token, written and revoked
//! together: the lookup item keyed by the hash (what authentication reads, one GetItem) and the
//! listing item in the project's partition (what `verdict admin token list` reads).

use crate::attrs::{get_bool, get_s, get_u64, n, s, Item, CREATED_MS, KIND, PROJECT};
use crate::keys::{
    project_sk, random_bytes, token_list_key, token_lookup_key, ProjectName, TOKEN_LIST_PREFIX,
};
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use sha2::{Digest, Sha256};

/// The token items' own attributes (besides the common ones in `attrs.rs`).
mod attr {
    pub(super) const TOKEN_ID: &str = "token_id";
    pub(super) const SCOPE: &str = "scope";
    pub(super) const DESCRIPTION: &str = "description";
    pub(super) const REVOKED: &str = "revoked";
    /// SHA-256 of the secret.
    pub(super) const HASH: &str = "hash";
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// May upload reports (and read the state of uploads).
    Upload,
    /// May read everything of the project.
    Read,
}

impl Scope {
    /// The stored and presented name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Upload => "upload",
            Scope::Read => "read",
        }
    }

    /// The scope of a name.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "upload" => Some(Scope::Upload),
            "read" => Some(Scope::Read),
            _ => None,
        }
    }
}

/// A token as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The project it belongs to.
    pub project: ProjectName,
    /// A short public id to name the token in lists and revocations.
    pub token_id: String,
    /// What it may do.
    pub scope: Scope,
    /// What it is for, as its creator said.
    pub description: String,
    /// When it was created.
    pub created_ms: u64,
    /// Whether it was revoked (it then authenticates nothing).
    pub revoked: bool,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equality of two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn token_from_item(item: &Item) -> Option<TokenInfo> {
    Some(TokenInfo {
        project: ProjectName::parse(get_s(item, PROJECT)?).ok()?,
        token_id: get_s(item, attr::TOKEN_ID)?.to_string(),
        scope: Scope::parse(get_s(item, attr::SCOPE)?)?,
        description: get_s(item, attr::DESCRIPTION)
            .unwrap_or_default()
            .to_string(),
        created_ms: get_u64(item, CREATED_MS),
        revoked: get_bool(item, attr::REVOKED),
    })
}

impl Store {
    /// Creates a token; returns it (the only time it is seen) with its listing.
    pub async fn create_token(
        &self,
        project: &ProjectName,
        scope: Scope,
        description: &str,
        now_ms: u64,
    ) -> Result<(String, TokenInfo), StoreError> {
        if self.get_project(project).await?.is_none() {
            return Err(StoreError::not_found(
                "CreateToken",
                format!("no project {project}"),
            ));
        }
        let token = format!("vdt_{}", hex::encode(random_bytes::<32>()));
        let hash = token_hash(&token);
        let token_id = hash[..12].to_string();
        let common = [
            (PROJECT, s(project.as_str())),
            (attr::TOKEN_ID, s(&token_id)),
            (attr::SCOPE, s(scope.as_str())),
            (attr::DESCRIPTION, s(description)),
            (CREATED_MS, n(now_ms)),
            (attr::REVOKED, AttributeValue::Bool(false)),
            (attr::HASH, s(&hash)),
        ];
        let item = |key: Item| -> Item {
            common
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .chain(key)
                .chain([(KIND.to_string(), s("token"))])
                .collect()
        };
        let put = |item: Item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map(|p| TransactWriteItem::builder().put(p).build())
                .map_err(|e| StoreError::permanent("CreateToken", e.to_string()))
        };
        let items = vec![
            put(item(token_lookup_key(&hash)))?,
            put(item(token_list_key(project, &token_id)))?,
        ];
        self.transact_all("CreateToken", items).await?;
        let info = TokenInfo {
            project: project.clone(),
            token_id,
            scope,
            description: description.to_string(),
            created_ms: now_ms,
            revoked: false,
        };
        Ok((token, info))
    }

    /// Every token of a project (revoked ones too).
    pub async fn list_tokens(&self, project: &ProjectName) -> Result<Vec<TokenInfo>, StoreError> {
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :k)")
            .expression_attribute_values(":pk", s(project_sk(project)))
            .expression_attribute_values(":k", s(TOKEN_LIST_PREFIX));
        let items = self.query_all("Query tokens", query).await?;
        Ok(items.iter().filter_map(token_from_item).collect())
    }

    /// Revokes a token by its public id; an error if the project has no such token.
    pub async fn revoke_token(
        &self,
        project: &ProjectName,
        token_id: &str,
    ) -> Result<(), StoreError> {
        let listing = self
            .read_item("GetItem token", token_list_key(project, token_id), true)
            .await?;
        let hash = listing
            .as_ref()
            .and_then(|i| get_s(i, attr::HASH))
            .ok_or_else(|| {
                StoreError::not_found(
                    "RevokeToken",
                    format!("project {project} has no token {token_id}"),
                )
            })?
            .to_string();
        let revoke = |key: Item| {
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression("SET revoked = :t")
                .expression_attribute_values(":t", AttributeValue::Bool(true))
                .build()
                .map(|u| TransactWriteItem::builder().update(u).build())
                .map_err(|e| StoreError::permanent("RevokeToken", e.to_string()))
        };
        let items = vec![
            revoke(token_lookup_key(&hash))?,
            revoke(token_list_key(project, token_id))?,
        ];
        self.transact_all("RevokeToken", items).await
    }

    /// The project and scope of a presented token: `None` for an unknown or revoked token.
    pub async fn authenticate(&self, token: &str) -> Result<Option<TokenInfo>, StoreError> {
        if !token.starts_with("vdt_") || token.len() != 68 {
            return Ok(None);
        }
        let hash = token_hash(token);
        let item = self
            .read_item("GetItem token", token_lookup_key(&hash), false)
            .await?;
        Ok(item
            .as_ref()
            .filter(|i| {
                get_s(i, attr::HASH)
                    .is_some_and(|h| constant_time_eq(h.as_bytes(), hash.as_bytes()))
            })
            .and_then(token_from_item)
            .filter(|t| !t.revoked))
    }
}
