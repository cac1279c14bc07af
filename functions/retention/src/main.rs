//! Lambda entry point: builds the store once and runs [`verdict_retention_fn::run`] per event,
//! within the invocation's deadline.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use verdict_retention_fn::{run, Budget, Request};
use verdict_store::{Store, StoreConfig};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let store = &Store::connect(&StoreConfig::from_env()?).await;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Request>| async move {
        let remaining = event
            .context
            .deadline()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        run(store, &event.payload, Budget::until(remaining))
            .await
            .map_err(Error::from)
    }))
    .await
}
