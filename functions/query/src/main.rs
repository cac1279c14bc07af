//! Lambda entry point: builds the store once and hands every request to [`verdict_query_fn::handle`].

use lambda_http::{run, service_fn, Error, Request};
use verdict_query_fn::{handle, App, CursorKey, ANSWER_WITHIN};
use verdict_store::{Store, StoreConfig};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let store = Store::connect(&StoreConfig::from_env()?)
        .await
        .keeping_windows();
    let app = &App {
        store,
        cursor_key: CursorKey::from_env()?,
        answer_within: ANSWER_WITHIN,
    };
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handle(app, request).await)
    }))
    .await
}
