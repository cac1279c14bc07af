//! Projects: the registry of every project, its retention and whether it may ingest.

use crate::attrs::{get_bool, get_s, get_u64, n, s, Expr, Item, CREATED_MS, KIND, PROJECT};
use crate::ddb::conditional;
use crate::keys::{item_key, project_sk, ProjectName, PROJECTS_PK};
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;

/// The project item's own attributes (besides the common ones in `attrs.rs`).
mod attr {
    pub(super) const RETENTION_DAYS: &str = "retention_days";
    pub(super) const ENABLED: &str = "enabled";
}

/// Days a project keeps its runs unless set otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// The longest retention accepted (the S3 lifecycle backstop is set past it).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// A project as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// Its name, part of every key of its data.
    pub name: ProjectName,
    /// How many days its runs are kept.
    pub retention_days: u32,
    /// Whether it may ingest (switched off, uploads answer 503).
    pub enabled: bool,
    /// When it was created.
    pub created_ms: u64,
}

fn project_from_item(item: &Item) -> Option<Project> {
    Some(Project {
        name: ProjectName::parse(get_s(item, PROJECT)?).ok()?,
        retention_days: u32::try_from(get_u64(item, attr::RETENTION_DAYS)).ok()?,
        enabled: get_bool(item, attr::ENABLED),
        created_ms: get_u64(item, CREATED_MS),
    })
}

fn project_key(name: &ProjectName) -> Item {
    item_key(PROJECTS_PK.into(), project_sk(name))
}

impl Store {
    /// Creates a project; a conflict if it exists.
    pub async fn create_project(
        &self,
        name: &ProjectName,
        retention_days: u32,
        now_ms: u64,
    ) -> Result<Project, StoreError> {
        check_retention(retention_days)?;
        let mut item = project_key(name);
        item.extend([
            (KIND.to_string(), s(PROJECT)),
            (PROJECT.to_string(), s(name.as_str())),
            (attr::RETENTION_DAYS.to_string(), n(retention_days)),
            (attr::ENABLED.to_string(), AttributeValue::Bool(true)),
            (CREATED_MS.to_string(), n(now_ms)),
        ]);
        let result = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if conditional("CreateProject", result)?.is_err() {
            return Err(StoreError::conflict(
                "CreateProject",
                format!("project {name} already exists"),
            ));
        }
        Ok(Project {
            name: name.clone(),
            retention_days,
            enabled: true,
            created_ms: now_ms,
        })
    }

    /// A project by name.
    pub async fn get_project(&self, name: &ProjectName) -> Result<Option<Project>, StoreError> {
        let item = self
            .read_item("GetItem project", project_key(name), true)
            .await?;
        Ok(item.as_ref().and_then(project_from_item))
    }

    /// Every project (one Query on the projects' partition).
    pub async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(PROJECTS_PK));
        let items = self.query_all("Query projects", query).await?;
        Ok(items.iter().filter_map(project_from_item).collect())
    }

    /// Sets a project's retention or enabled flag; not found if there is no such project.
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
            sets.push(e.set(attr::RETENTION_DAYS, n(days)));
        }
        if let Some(enabled) = enabled {
            sets.push(e.set(attr::ENABLED, AttributeValue::Bool(enabled)));
        }
        if sets.is_empty() {
            return Ok(());
        }
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(project_key(name)))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .send()
            .await;
        match conditional("UpdateProject", result)? {
            Ok(_) => Ok(()),
            Err(_) => Err(StoreError::not_found(
                "UpdateProject",
                format!("no project {name}"),
            )),
        }
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
