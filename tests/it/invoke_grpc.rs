//! Invocation with gRPC on either side: the official Rust SDK's
//! `invoke_service` against an HTTP app and a gRPC app (a tonic
//! `AppCallback` server), and HTTP invocation of the gRPC app.

use dapr::dapr::proto::common::v1::{InvokeRequest, InvokeResponse};
use dapr::dapr::proto::runtime::v1 as sdk;
use sdk::app_callback_client::AppCallbackClient;
use sdk::app_callback_server::AppCallback;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::app::TestApp;
use crate::harness::*;

type Client = dapr::Client<dapr::client::TonicClientWithAuth>;

#[test]
fn sdk_invokes_an_http_app() {
    let app = TestApp::start();
    let port = app.port.to_string();
    let d = InProc::start(
        &["--app-id", "inv", "--app-port", &port],
        daprd::runtime::Driver::Auto,
        None,
    );
    crate::grpc::rt().block_on(async {
        let mut c = Client::connect_with_address(format!("http://{}", d.grpc()))
            .await
            .unwrap();
        let r = c
            .invoke_service("inv", "echo", any(b"hello"))
            .await
            .unwrap();
        let text = String::from_utf8(r.data.unwrap().value).unwrap();
        assert!(text.starts_with("POST /echo\n"), "{text}");
        assert!(text.contains("dapr-caller-app-id: inv"), "{text}");
        assert!(text.ends_with("\n\nhello"), "{text}");
        // The app's error status → Go's gRPC code, status text as message.
        let err = c
            .invoke_service("inv", "status/404", None)
            .await
            .unwrap_err();
        let dbg = format!("{err:?}");
        assert!(
            dbg.contains("NotFound") && dbg.contains("Not Found"),
            "{dbg}"
        );
        let err = c
            .invoke_service("inv", "status/503", None)
            .await
            .unwrap_err();
        assert!(format!("{err:?}").contains("Unavailable"), "{err:?}");
        // The app's headers come back as response metadata, as Go's
        // (permanent HTTP names with `dapr-`), with `dapr-http-status`.
        let mut raw = sdk::dapr_client::DaprClient::connect(format!("http://{}", d.grpc()))
            .await
            .unwrap();
        let r = raw
            .invoke_service(sdk::InvokeServiceRequest {
                id: "inv".into(),
                message: Some(InvokeRequest {
                    method: "echo".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        let md = r.metadata();
        assert_eq!(md.get("x-app").unwrap(), "yes", "{md:?}");
        assert_eq!(md.get("dapr-http-status").unwrap(), "200", "{md:?}");
        assert!(md.get("dapr-content-type").is_some(), "{md:?}");
        assert!(
            md.get("content-type").unwrap() == "application/grpc",
            "{md:?}"
        );
        // Another app: no name resolution here.
        let err = c.invoke_service("other", "echo", None).await.unwrap_err();
        assert!(
            format!("{err:?}").contains("ERR_DIRECT_INVOKE")
                || format!("{err:?}").contains("couldn't find service"),
            "{err:?}"
        );
    });
}

/// A gRPC app answering `OnInvoke` with the method, verb, query string and
/// data it saw; method `metadata` answers the metadata it saw instead, one
/// `name: value` line each, sorted.
struct Echo;

#[tonic::async_trait]
impl AppCallback for Echo {
    async fn on_invoke(
        &self,
        req: Request<InvokeRequest>,
    ) -> Result<Response<InvokeResponse>, Status> {
        let caller = req
            .metadata()
            .get("dapr-caller-app-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut seen: Vec<String> = req
            .metadata()
            .clone()
            .into_headers()
            .iter()
            .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
            .collect();
        seen.sort();
        let r = req.into_inner();
        if r.method == "fail" {
            return Err(Status::permission_denied("no way"));
        }
        if r.method == "metadata" {
            return Ok(Response::new(InvokeResponse {
                data: any(seen.join("\n").as_bytes()),
                content_type: "text/plain".into(),
            }));
        }
        let ext = r.http_extension.unwrap_or_default();
        let data = r.data.map(|d| d.value).unwrap_or_default();
        let out = format!(
            "{} verb={} q={} ct={} caller={} data={}",
            r.method,
            ext.verb,
            ext.querystring,
            r.content_type,
            caller,
            String::from_utf8_lossy(&data)
        );
        Ok(Response::new(InvokeResponse {
            data: any(out.as_bytes()),
            content_type: "text/plain".into(),
        }))
    }
    async fn list_topic_subscriptions(
        &self,
        _: Request<()>,
    ) -> Result<Response<sdk::ListTopicSubscriptionsResponse>, Status> {
        Err(Status::unimplemented("none"))
    }
    async fn on_topic_event(
        &self,
        _: Request<sdk::TopicEventRequest>,
    ) -> Result<Response<sdk::TopicEventResponse>, Status> {
        Err(Status::unimplemented("none"))
    }
    async fn list_input_bindings(
        &self,
        _: Request<()>,
    ) -> Result<Response<sdk::ListInputBindingsResponse>, Status> {
        Err(Status::unimplemented("none"))
    }
    async fn on_binding_event(
        &self,
        _: Request<sdk::BindingEventRequest>,
    ) -> Result<Response<sdk::BindingEventResponse>, Status> {
        Err(Status::unimplemented("none"))
    }
    async fn on_bulk_topic_event(
        &self,
        _: Request<sdk::TopicEventBulkRequest>,
    ) -> Result<Response<sdk::TopicEventBulkResponse>, Status> {
        Err(Status::unimplemented("none"))
    }
    async fn on_job_event(
        &self,
        _: Request<sdk::JobEventRequest>,
    ) -> Result<Response<sdk::JobEventResponse>, Status> {
        Err(Status::unimplemented("none"))
    }
}

pub(crate) fn grpc_app() -> u16 {
    grpc_app_server(Echo)
}

/// Through `c`, a proxying `AppCallback` client, to [`grpc_app`] as
/// `app_id`: 1 MiB each way (flow control end to end), and the app's errors
/// pass through unchanged.
pub(crate) async fn big_and_failing_calls_pass_through(
    c: &mut AppCallbackClient<Channel>,
    app_id: &str,
) {
    let call =
        |method: &str, data: Vec<u8>| invoke_request(method, Some(&data), app_id, &["dapr-app-id"]);
    let big = vec![b'z'; 1 << 20];
    let r = c.on_invoke(call("big", big)).await.unwrap();
    assert!(r.into_inner().data.unwrap().value.len() > 1 << 20);
    let err = c.on_invoke(call("fail", Vec::new())).await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (tonic::Code::PermissionDenied, "no way")
    );
}

/// A sidecar in-process (auto driver) for app `app_id`, a fresh
/// [`grpc_app`] (`--app-protocol grpc`), with `extra` flags.
pub(crate) fn sidecar_for_grpc_app(app_id: &str, extra: &[&str]) -> InProc {
    InProc::for_app(app_id, grpc_app(), "grpc", extra)
}

#[test]
fn a_grpc_app_is_invoked_over_grpc_and_http() {
    let d = sidecar_for_grpc_app("gapp", &[]);
    wait_status(d.http, "/v1.0/healthz", 204);
    // HTTP → OnInvoke: verb, query string, content type and body carried over.
    let r = request(
        d.http,
        "PUT",
        "/v1.0/invoke/gapp/method/orders/7?x=1",
        &[("content-type", "application/json")],
        b"{}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(
        r.text(),
        "orders/7 verb=4 q=x=1 ct=application/json caller=gapp data={}"
    );
    // The app's error status as JSON with the matching HTTP status.
    let r = request(d.http, "POST", "/v1.0/invoke/gapp/method/fail", &[], b"");
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["message"], "no way");
    // gRPC InvokeService → OnInvoke as is.
    crate::grpc::rt().block_on(async {
        let mut c = Client::connect_with_address(format!("http://{}", d.grpc()))
            .await
            .unwrap();
        let r = c
            .invoke_service("gapp", "hello", any(b"there"))
            .await
            .unwrap();
        let text = String::from_utf8(r.data.unwrap().value).unwrap();
        assert_eq!(text, "hello verb=0 q= ct= caller=gapp data=there");
        let err = c.invoke_service("gapp", "fail", None).await.unwrap_err();
        assert!(format!("{err:?}").contains("PermissionDenied"), "{err:?}");
    });
}

#[test]
fn non_dapr_grpc_calls_with_dapr_app_id_are_proxied() {
    let d = sidecar_for_grpc_app("proxied", &[]);
    wait_status(d.http, "/v1.0/healthz", 204);
    crate::grpc::rt().block_on(async {
        let mut c = app_callback_client(d.grpc()).await;
        let call = |method: &str, data: Vec<u8>, app: &str| {
            invoke_request(method, Some(&data), app, &["dapr-app-id"])
        };
        // The app's service, through the sidecar, answers as itself.
        let r = c
            .on_invoke(call("m", b"hi".to_vec(), "proxied"))
            .await
            .unwrap();
        let text = String::from_utf8(r.into_inner().data.unwrap().value).unwrap();
        assert!(text.starts_with("m verb=0"), "{text}");
        // As in Go ≥ 1.16 the app does not see `dapr-app-id`; the rest of
        // the caller's metadata reaches it.
        let mut r = call("metadata", Vec::new(), "proxied");
        r.metadata_mut().insert("x-mine", "kept".parse().unwrap());
        let r = c.on_invoke(r).await.unwrap();
        let text = String::from_utf8(r.into_inner().data.unwrap().value).unwrap();
        assert!(!text.contains("dapr-app-id"), "{text}");
        assert!(text.contains("x-mine: kept"), "{text}");
        big_and_failing_calls_pass_through(&mut c, "proxied").await;
        // Another app id: not resolvable here.
        let err = c
            .on_invoke(call("m", Vec::new(), "elsewhere"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    });
}
