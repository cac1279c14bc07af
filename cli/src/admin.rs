//! `verdict admin`: projects and tokens, straight to DynamoDB with the operator's AWS
//! credentials (or the local stack's endpoint): `VERDICT_TABLE`, `VERDICT_BUCKET`,
//! `VERDICT_DYNAMODB_ENDPOINT`, `VERDICT_S3_ENDPOINT`.

use clap::Subcommand;
use std::process::ExitCode;
use verdict_store::{now_ms, ProjectName, Scope, Store, StoreConfig, DEFAULT_RETENTION_DAYS};

#[derive(Subcommand)]
pub(crate) enum Admin {
    /// Projects: create, list, set-retention, disable, enable.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Tokens: create, list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Create the table and the bucket (the local stack; on AWS the SAM template does).
    Init,
}

#[derive(Subcommand)]
pub(crate) enum ProjectCommand {
    Create {
        name: String,
        #[arg(long, default_value_t = DEFAULT_RETENTION_DAYS)]
        retention_days: u32,
    },
    List,
    SetRetention {
        name: String,
        days: u32,
    },
    /// Switch ingestion off: uploads answer 503 until enabled again.
    Disable {
        name: String,
    },
    Enable {
        name: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it: it is shown once, only its hash is stored.
    Create {
        project: String,
        #[arg(long, value_parser = ["upload", "read"])]
        scope: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Where the dashboard is (the stack's DashboardUrl output; default: $VERDICT_ENDPOINT):
        /// a read token is printed with a sign-in link to it.
        #[arg(long, env = "VERDICT_DASHBOARD_URL")]
        dashboard_url: Option<String>,
    },
    List {
        project: String,
    },
    Revoke {
        project: String,
        token_id: String,
    },
}

pub(crate) fn run(command: Admin) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(execute(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("verdict admin: {message}");
            ExitCode::from(2)
        }
    }
}

fn project(name: &str) -> Result<ProjectName, String> {
    ProjectName::parse(name)
}

async fn execute(command: Admin) -> Result<(), String> {
    let store = Store::connect(&StoreConfig::from_env()?).await;
    let e = |e: verdict_store::StoreError| e.to_string();
    match command {
        Admin::Init => {
            store.create_table().await.map_err(e)?;
            store.create_bucket().await.map_err(e)?;
            println!(
                "created table {} and bucket {}",
                store.table(),
                store.bucket()
            );
        }
        Admin::Project(ProjectCommand::Create {
            name,
            retention_days,
        }) => {
            let p = store
                .create_project(&project(&name)?, retention_days, now_ms())
                .await
                .map_err(e)?;
            println!(
                "created project {} (retention {} days)",
                p.name, p.retention_days
            );
        }
        Admin::Project(ProjectCommand::List) => {
            println!("{:<32} {:>9} {:>8}", "PROJECT", "RETENTION", "ENABLED");
            for p in store.list_projects().await.map_err(e)? {
                println!("{:<32} {:>8}d {:>8}", p.name, p.retention_days, p.enabled);
            }
        }
        Admin::Project(ProjectCommand::SetRetention { name, days }) => {
            store
                .update_project(&project(&name)?, Some(days), None)
                .await
                .map_err(e)?;
            println!("project {name}: retention {days} days");
        }
        Admin::Project(ProjectCommand::Disable { name }) => {
            store
                .update_project(&project(&name)?, None, Some(false))
                .await
                .map_err(e)?;
            println!("project {name}: ingestion disabled");
        }
        Admin::Project(ProjectCommand::Enable { name }) => {
            store
                .update_project(&project(&name)?, None, Some(true))
                .await
                .map_err(e)?;
            println!("project {name}: ingestion enabled");
        }
        Admin::Token(TokenCommand::Create {
            project: name,
            scope,
            description,
            dashboard_url,
        }) => {
            let scope = Scope::parse(&scope).ok_or("scope must be upload or read")?;
            let (token, info) = store
                .create_token(&project(&name)?, scope, &description, now_ms())
                .await
                .map_err(e)?;
            eprintln!(
                "token {} ({} scope) for project {name}; it is shown only now:",
                info.token_id,
                scope.as_str()
            );
            println!("{token}");
            let dashboard = dashboard_url.or_else(|| std::env::var("VERDICT_ENDPOINT").ok());
            match (scope, dashboard) {
                (Scope::Read, Some(dashboard)) => {
                    eprintln!("dashboard: {}", sign_in_link(&dashboard, &token));
                }
                (Scope::Read, None) => eprintln!(
                    "(pass --dashboard-url, the stack's DashboardUrl output, for a sign-in link)"
                ),
                (Scope::Upload, _) => {}
            }
        }
        Admin::Token(TokenCommand::List { project: name }) => {
            println!(
                "{:<14} {:<7} {:<8} DESCRIPTION",
                "TOKEN ID", "SCOPE", "REVOKED"
            );
            for t in store.list_tokens(&project(&name)?).await.map_err(e)? {
                println!(
                    "{:<14} {:<7} {:<8} {}",
                    t.token_id,
                    t.scope.as_str(),
                    t.revoked,
                    t.description
                );
            }
        }
        Admin::Token(TokenCommand::Revoke {
            project: name,
            token_id,
        }) => {
            store
                .revoke_token(&project(&name)?, &token_id)
                .await
                .map_err(e)?;
            println!("token {token_id} revoked");
        }
    }
    Ok(())
}

/// A link that signs the dashboard in with a read token. The token rides in the fragment, which
/// a browser never sends to a server; the page (functions/web/ui/src/auth.ts) keeps it in the
/// tab and takes it out of the address bar.
pub(crate) fn sign_in_link(dashboard: &str, token: &str) -> String {
    format!("{}/#token={token}", dashboard.trim_end_matches('/'))
}
