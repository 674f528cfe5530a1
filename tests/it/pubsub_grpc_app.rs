//! Pub/sub to a gRPC app (`--app-protocol grpc`): the official Rust SDK's
//! `AppCallbackService` (tonic) lists its subscriptions through
//! `ListTopicSubscriptions` and receives events through `OnTopicEvent`.

use std::sync::mpsc;
use std::time::Duration;

use dapr::appcallback::{AppCallbackService, Handler, HandlerMethod};
use dapr::dapr::proto::runtime::v1::{TopicEventRequest, TopicEventResponse};

use crate::harness::*;
use crate::pubsub::{publish, resources_of};

struct Recorder(mpsc::Sender<TopicEventRequest>);

#[dapr::reexport::async_trait]
impl HandlerMethod for Recorder {
    async fn handler(
        &self,
        request: TopicEventRequest,
    ) -> Result<tonic::Response<TopicEventResponse>, tonic::Status> {
        let _ = self.0.send(request);
        Ok(tonic::Response::new(TopicEventResponse { status: 0 }))
    }
}

/// Runs the SDK's app server on a free port in a background thread.
fn sdk_app(topic: &str) -> (u16, mpsc::Receiver<TopicEventRequest>) {
    let (tx, rx) = mpsc::channel();
    let mut service = AppCallbackService::new();
    service.add_handler(Handler {
        pub_sub_name: "pubsub".into(),
        topic: topic.to_owned(),
        handler: Box::new(Recorder(tx)),
    });
    (grpc_app_server(service), rx)
}

#[test]
fn sdk_grpc_app_receives_events() {
    let (port, rx) = sdk_app("orders");
    let dir = resources_of("pubsub.in-memory", &[], "")
        .display()
        .to_string();
    let port = port.to_string();
    let d = InProc::start(
        &[
            "--app-id",
            "grpcapp",
            "--app-port",
            &port,
            "--app-protocol",
            "grpc",
            "--resources-path",
            &dir,
        ],
        daprd::runtime::Driver::Auto,
        None,
    );
    // The subscription is learnt from the app, then listed.
    let deadline = std::time::Instant::now() + WAIT;
    while get(d.http, "/v1.0/metadata").json()["subscriptions"].is_null() {
        assert!(
            std::time::Instant::now() < deadline,
            "no subscription learnt"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let md = get(d.http, "/v1.0/metadata").json();
    assert_eq!(md["subscriptions"][0]["topic"], "orders");
    assert_eq!(md["subscriptions"][0]["type"], "PROGRAMMATIC");

    let r = publish(
        &d,
        "/v1.0/publish/pubsub/orders",
        "application/json",
        br#"{"id":7}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let ev = rx.recv_timeout(WAIT).expect("OnTopicEvent called");
    assert_eq!(
        (ev.topic.as_str(), ev.pubsub_name.as_str()),
        ("orders", "pubsub")
    );
    assert_eq!(ev.data_content_type, "application/json");
    assert_eq!(ev.data, br#"{"id":7}"#);
    assert_eq!(
        (ev.source.as_str(), ev.spec_version.as_str()),
        ("grpcapp", "1.0")
    );
    assert_eq!(ev.r#type, "com.dapr.event.sent");
    // Other topics are not delivered.
    publish(&d, "/v1.0/publish/pubsub/other", "text/plain", b"x");
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
}
