//! Lambda entry point: hands every request to [`verdict_web_fn::handle`].

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    run(service_fn(|request: Request| async move {
        Ok::<_, Error>(verdict_web_fn::handle(&request))
    }))
    .await
}
