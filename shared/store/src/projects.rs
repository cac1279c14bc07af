//! Projects and their tokens.
//!
//! A token is `vdt_` followed by 64 hex digits (256 random bits), shown once when created and
//! stored only as its SHA-256. Two items per token, written and revoked together: the lookup item
//! keyed by the hash (what authentication reads, one GetItem) and the listing item in the
//! project's partition (what `verdict admin token list` reads).

use crate::attrs::{get_bool, get_s, get_u64, n, s, Expr, Item};
use crate::keys::{random_bytes, ProjectName};
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Days a project keeps its runs unless set otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// The longest retention accepted (the S3 lifecycle backstop is set past it).
pub const MAX_RETENTION_DAYS: u32 = 3650;

const PROJECTS_PK: &str = "PROJECTS";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub name: ProjectName,
    pub retention_days: u32,
    pub enabled: bool,
    pub created_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// May upload reports (and read the state of uploads).
    Upload,
    /// May read everything of the project.
    Read,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Upload => "upload",
            Scope::Read => "read",
        }
    }

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
    pub project: ProjectName,
    /// A short public id to name the token in lists and revocations.
    pub token_id: String,
    pub scope: Scope,
    pub description: String,
    pub created_ms: u64,
    pub revoked: bool,
}

fn project_sk(name: &ProjectName) -> String {
    format!("P#{name}")
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn token_lookup_pk(hash: &str) -> String {
    format!("K#{hash}")
}

fn token_list_sk(token_id: &str) -> String {
    format!("K#{token_id}")
}

/// Equality of two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn project_from_item(item: &Item) -> Option<Project> {
    Some(Project {
        name: ProjectName::parse(get_s(item, "project")?).ok()?,
        retention_days: u32::try_from(get_u64(item, "retention_days")).ok()?,
        enabled: get_bool(item, "enabled"),
        created_ms: get_u64(item, "created_ms"),
    })
}

fn token_from_item(item: &Item) -> Option<TokenInfo> {
    Some(TokenInfo {
        project: ProjectName::parse(get_s(item, "project")?).ok()?,
        token_id: get_s(item, "token_id")?.to_string(),
        scope: Scope::parse(get_s(item, "scope")?)?,
        description: get_s(item, "description").unwrap_or_default().to_string(),
        created_ms: get_u64(item, "created_ms"),
        revoked: get_bool(item, "revoked"),
    })
}

impl Store {
    fn project_key(
        &self,
        name: &ProjectName,
    ) -> HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        HashMap::from([
            ("pk".to_string(), s(PROJECTS_PK)),
            ("sk".to_string(), s(project_sk(name))),
        ])
    }

    /// Creates a project; an error if it exists.
    pub async fn create_project(
        &self,
        name: &ProjectName,
        retention_days: u32,
        now_ms: u64,
    ) -> Result<Project, StoreError> {
        check_retention(retention_days)?;
        let mut item = self.project_key(name);
        item.extend([
            ("kind".to_string(), s("project")),
            ("project".to_string(), s(name.as_str())),
            ("retention_days".to_string(), n(retention_days)),
            (
                "enabled".to_string(),
                aws_sdk_dynamodb::types::AttributeValue::Bool(true),
            ),
            ("created_ms".to_string(), n(now_ms)),
        ]);
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(err) if err.is_conditional_check_failed_exception() => {
                    StoreError::permanent("CreateProject", format!("project {name} already exists"))
                }
                _ => StoreError::from_sdk("CreateProject", e),
            })?;
        Ok(Project {
            name: name.clone(),
            retention_days,
            enabled: true,
            created_ms: now_ms,
        })
    }

    pub async fn get_project(&self, name: &ProjectName) -> Result<Option<Project>, StoreError> {
        let item = self
            .read_item(
                "GetItem project",
                PROJECTS_PK.into(),
                project_sk(name),
                true,
            )
            .await?;
        Ok(item.as_ref().and_then(project_from_item))
    }

    /// Every project (one Query on the projects' partition).
    pub async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        let items = self
            .query_all(
                self.ddb
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk")
                    .expression_attribute_values(":pk", s(PROJECTS_PK)),
            )
            .await?;
        Ok(items.iter().filter_map(project_from_item).collect())
    }

    /// Sets a project's retention or enabled flag; an error if there is no such project.
    pub async fn update_project(
        &self,
        name: &ProjectName,
        retention_days: Option<u32>,
        enabled: Option<bool>,
    ) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let mut sets = Vec::new();
        if let Some(days) = retention_days {
            check_retention(days)?;
            sets.push(e.set("retention_days", n(days)));
        }
        if let Some(enabled) = enabled {
            sets.push(e.set(
                "enabled",
                aws_sdk_dynamodb::types::AttributeValue::Bool(enabled),
            ));
        }
        if sets.is_empty() {
            return Ok(());
        }
        self.ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.project_key(name)))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(err) if err.is_conditional_check_failed_exception() => {
                    StoreError::permanent("UpdateProject", format!("no project {name}"))
                }
                _ => StoreError::from_sdk("UpdateProject", e),
            })?;
        Ok(())
    }

    /// Creates a token; returns it (the only time it is seen) with its listing.
    pub async fn create_token(
        &self,
        project: &ProjectName,
        scope: Scope,
        description: &str,
        now_ms: u64,
    ) -> Result<(String, TokenInfo), StoreError> {
        if self.get_project(project).await?.is_none() {
            return Err(StoreError::permanent(
                "CreateToken",
                format!("no project {project}"),
            ));
        }
        let token = format!("vdt_{}", hex::encode(random_bytes::<32>()));
        let hash = token_hash(&token);
        let token_id = hash[..12].to_string();
        let common = [
            ("project", s(project.as_str())),
            ("token_id", s(&token_id)),
            ("scope", s(scope.as_str())),
            ("description", s(description)),
            ("created_ms", n(now_ms)),
            (
                "revoked",
                aws_sdk_dynamodb::types::AttributeValue::Bool(false),
            ),
            ("hash", s(&hash)),
        ];
        let item = |pk: String, sk: String| -> Item {
            common
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .chain([
                    ("pk".to_string(), s(pk)),
                    ("sk".to_string(), s(sk)),
                    ("kind".to_string(), s("token")),
                ])
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
            put(item(token_lookup_pk(&hash), "TOKEN".into()))?,
            put(item(format!("P#{project}"), token_list_sk(&token_id)))?,
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

    pub async fn list_tokens(&self, project: &ProjectName) -> Result<Vec<TokenInfo>, StoreError> {
        let items = self
            .query_all(
                self.ddb
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND begins_with(sk, :k)")
                    .expression_attribute_values(":pk", s(format!("P#{project}")))
                    .expression_attribute_values(":k", s("K#")),
            )
            .await?;
        Ok(items.iter().filter_map(token_from_item).collect())
    }

    /// Revokes a token by its public id; an error if the project has no such token.
    pub async fn revoke_token(
        &self,
        project: &ProjectName,
        token_id: &str,
    ) -> Result<(), StoreError> {
        let listing = self
            .read_item(
                "GetItem token",
                format!("P#{project}"),
                token_list_sk(token_id),
                true,
            )
            .await?;
        let hash = listing
            .as_ref()
            .and_then(|i| get_s(i, "hash"))
            .ok_or_else(|| {
                StoreError::permanent(
                    "RevokeToken",
                    format!("project {project} has no token {token_id}"),
                )
            })?
            .to_string();
        let revoke = |pk: String, sk: String| {
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(sk))
                .update_expression("SET revoked = :t")
                .expression_attribute_values(
                    ":t",
                    aws_sdk_dynamodb::types::AttributeValue::Bool(true),
                )
                .build()
                .map(|u| TransactWriteItem::builder().update(u).build())
                .map_err(|e| StoreError::permanent("RevokeToken", e.to_string()))
        };
        let items = vec![
            revoke(token_lookup_pk(&hash), "TOKEN".into())?,
            revoke(format!("P#{project}"), token_list_sk(token_id))?,
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
            .read_item(
                "GetItem token",
                token_lookup_pk(&hash),
                "TOKEN".into(),
                false,
            )
            .await?;
        Ok(item
            .as_ref()
            .filter(|i| {
                get_s(i, "hash").is_some_and(|h| constant_time_eq(h.as_bytes(), hash.as_bytes()))
            })
            .and_then(token_from_item)
            .filter(|t| !t.revoked))
    }
}

fn check_retention(days: u32) -> Result<(), StoreError> {
    if (1..=MAX_RETENTION_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(StoreError::permanent(
            "retention",
            format!("retention must be 1 to {MAX_RETENTION_DAYS} days, not {days}"),
        ))
    }
}

impl Store {
    /// Counts one request against `project`'s budget for the current minute; false when the
    /// budget is spent. One conditional UpdateItem on a counter item that expires by TTL.
    pub async fn take_rate(
        &self,
        project: &ProjectName,
        now_ms: u64,
        per_minute: u32,
    ) -> Result<bool, StoreError> {
        let minute = now_ms / 60_000;
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("RATE#{project}")))
            .key("sk", s(minute.to_string()))
            .update_expression("ADD #count :one SET #expires = :expires")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#expires", crate::schema::EXPIRES_AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(per_minute))
            .expression_attribute_values(":expires", n(minute * 60 + 3600))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(StoreError::from_sdk("UpdateItem rate", e)),
        }
    }
}
