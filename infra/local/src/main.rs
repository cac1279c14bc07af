//! `make dev`: the whole stack on loopback. Expects DynamoDB Local and SeaweedFS already
//! started by `scripts/stack.sh run` (which `make dev` uses); see [`verdict_local::start_dev`].

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    lambda_http::tracing::init_default_subscriber();
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let config = verdict_store::StoreConfig {
        table: env("VERDICT_TABLE", "verdict-dev"),
        bucket: env("VERDICT_BUCKET", "verdict-dev"),
        dynamodb_endpoint: Some(std::env::var("VERDICT_DYNAMODB_ENDPOINT").map_err(|_| {
            "VERDICT_DYNAMODB_ENDPOINT is not set: run `make dev` (scripts/stack.sh starts the services)"
        })?),
        s3_endpoint: Some(std::env::var("VERDICT_S3_ENDPOINT")?),
    };
    let port: u16 = env("PORT", "3000").parse()?;
    let dev = verdict_local::start_dev(&config, port, std::path::Path::new(".verdict")).await?;
    println!("{}", dev.welcome);
    tokio::signal::ctrl_c().await?;
    println!("stopping");
    Ok(())
}
