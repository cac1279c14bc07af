//! A store that never leaves the process (compiled only with the `test-support` feature): its
//! HTTP client answers each request as a script says, with AWS's own wire format, so handler
//! tests can drive the store's and the handlers' failure branches (throttling, a failed
//! condition, a cancelled transaction) through the deployed code, without an engine.

use crate::Store;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use std::sync::Arc;

/// One answer of the script: an HTTP status and a body (DynamoDB's JSON, S3's XML).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: String,
}

impl Answer {
    /// 200 with a DynamoDB JSON body.
    pub fn ok(body: &serde_json::Value) -> Answer {
        Answer {
            status: 200,
            body: body.to_string(),
        }
    }

    /// A DynamoDB error of type `code` (`ThrottlingException`, ...), as DynamoDB sends it.
    pub fn error(code: &str, extra: serde_json::Value) -> Answer {
        let mut body = serde_json::json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
            "message": format!("scripted {code}"),
        });
        if let (Some(body), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        Answer {
            status: 400,
            body: body.to_string(),
        }
    }
}

type Script = dyn Fn(&str, &serde_json::Value) -> Answer + Send + Sync;

/// The HTTP client of a scripted store.
#[derive(Clone)]
struct Scripted(Arc<Script>);

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scripted")
    }
}

impl HttpConnector for Scripted {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        // DynamoDB names the operation in a header; S3 requests are named by method and path.
        let operation = match request.headers().get("x-amz-target") {
            Some(target) => target.rsplit('.').next().unwrap_or(target).to_string(),
            None => format!("S3 {} {}", request.method(), request.uri()),
        };
        let body = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(serde_json::Value::Null);
        let answer = (self.0)(&operation, &body);
        let status = answer.status.try_into().expect("an HTTP status");
        HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(answer.body))))
    }
}

impl HttpClient for Scripted {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl Store {
    /// A store whose every request is answered by `script(operation, request body)`: the
    /// DynamoDB operation (`GetItem`, `TransactWriteItems`, ...) or `S3 {method} {uri}`. The
    /// SDK does not retry: each request is answered once.
    pub fn scripted(
        script: impl Fn(&str, &serde_json::Value) -> Answer + Send + Sync + 'static,
    ) -> Store {
        let client = Scripted(Arc::new(script));
        let credentials = Credentials::new("AKIDSCRIPTED", "scripted", None, None, "scripted");
        let retry = aws_sdk_dynamodb::config::retry::RetryConfig::disabled();
        let ddb = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials.clone())
            .endpoint_url("http://scripted.invalid")
            .retry_config(retry.clone())
            .http_client(client.clone())
            .build();
        let s3 = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(credentials)
            .endpoint_url("http://scripted.invalid")
            .force_path_style(true)
            .retry_config(retry)
            .http_client(client)
            .build();
        Store {
            ddb: aws_sdk_dynamodb::Client::from_conf(ddb),
            s3: aws_sdk_s3::Client::from_conf(s3),
            table: "t".into(),
            bucket: "b".into(),
            windows: Default::default(),
        }
    }
}
