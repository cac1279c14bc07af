//! Lambda entry point: builds the store once and hands every event to [`verdict_parse_fn::handle`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use verdict_parse_fn::ingest::{Ingest, Settings};
use verdict_parse_fn::{deadline_at, handle, Event};
use verdict_store::{Store, StoreConfig};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let store = Store::connect(&StoreConfig::from_env()?).await;
    let ingest = &Ingest::new(store, Settings::default());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let deadline = deadline_at(event.context.deadline);
        handle(
            ingest,
            event.payload,
            &event.context.request_id,
            Some(deadline),
        )
        .await
        .map(|outcomes| outcomes.len())
        .map_err(Error::from)
    }))
    .await
}
