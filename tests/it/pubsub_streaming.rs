//! Streaming subscriptions (`SubscribeTopicEventsAlpha1`) against the real
//! binary: events published on any worker arrive on the stream, the
//! client's RETRY redelivers, the metadata API lists the subscription while
//! the stream is open, and bad openings get Go's errors.

use std::collections::HashMap;
use std::time::Duration;

use daprd::proto::dapr::proto::runtime::v1 as pb;
use pb::subscribe_topic_events_request_alpha1::SubscribeTopicEventsRequestType as Req;
use pb::subscribe_topic_events_response_alpha1::SubscribeTopicEventsResponseType as Resp;

use crate::grpc::{rt, start_with_grpc};
use crate::grpc_reflection::Stream;
use crate::harness::*;
use crate::pubsub::resources_of;
use crate::services;

const PATH: &str = "/dapr.proto.runtime.v1.Dapr/SubscribeTopicEventsAlpha1";

fn initial(pubsub: &str, topic: &str) -> pb::SubscribeTopicEventsRequestAlpha1 {
    pb::SubscribeTopicEventsRequestAlpha1 {
        subscribe_topic_events_request_type: Some(Req::InitialRequest(
            pb::SubscribeTopicEventsRequestInitialAlpha1 {
                pubsub_name: pubsub.into(),
                topic: topic.into(),
                metadata: HashMap::new(),
                dead_letter_topic: None,
            },
        )),
    }
}

fn processed(id: &str, status: i32) -> pb::SubscribeTopicEventsRequestAlpha1 {
    pb::SubscribeTopicEventsRequestAlpha1 {
        subscribe_topic_events_request_type: Some(Req::EventProcessed(
            pb::SubscribeTopicEventsRequestProcessedAlpha1 {
                id: id.into(),
                status: Some(pb::TopicEventResponse { status }),
            },
        )),
    }
}

async fn next_event(s: &mut Stream) -> pb::TopicEventRequest {
    let m: pb::SubscribeTopicEventsResponseAlpha1 = s.recv_msg().await;
    match m.subscribe_topic_events_response_type {
        Some(Resp::EventMessage(e)) => e,
        other => panic!("not an event: {other:?}"),
    }
}

/// Opens a subscription and waits for the initial response.
async fn subscribe(addr: std::net::SocketAddr, topic: &str) -> Stream {
    let mut s = Stream::open(addr, PATH, &[]).await;
    s.send_msg(&initial("pubsub", topic));
    let first: pb::SubscribeTopicEventsResponseAlpha1 = s.recv_msg().await;
    assert!(
        matches!(
            first.subscribe_topic_events_response_type,
            Some(Resp::InitialResponse(_))
        ),
        "{first:?}"
    );
    s
}

fn streaming_listed(http: std::net::SocketAddr) -> usize {
    let md = get(http, "/v1.0/metadata").json();
    md["subscriptions"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|s| s["type"] == "STREAMING").count())
}

/// Publishes `n` text events, each on a fresh connection (so both workers publish).
fn publish_each(http: std::net::SocketAddr, topic: &str, n: usize) {
    for i in 0..n {
        let r = request(
            http,
            "POST",
            &format!("/v1.0/publish/pubsub/{topic}"),
            &[("content-type", "text/plain"), ("connection", "close")],
            format!("m{i}").as_bytes(),
        );
        assert_eq!(r.status, 204, "{}", r.text());
    }
}

fn run(dir: &std::path::Path, topic: &str) {
    let dir = dir.display().to_string();
    let (d, addr) = start_with_grpc(&["--resources-path", &dir, "--workers", "2"], &[]);
    rt().block_on(async {
        let mut s = subscribe(addr, topic).await;
        assert_eq!(streaming_listed(d.http), 1);
        let http = d.http;
        let t = topic.to_owned();
        let publisher = tokio::task::spawn_blocking(move || publish_each(http, &t, 20));

        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut retried = None;
        while seen.len() < 20 || retried.as_ref().is_some_and(|id| seen[id] < 2) {
            let e = next_event(&mut s).await;
            assert_eq!(
                (e.topic.as_str(), e.pubsub_name.as_str(), e.path.as_str()),
                (topic, "pubsub", "/")
            );
            assert_eq!(e.data_content_type, "text/plain");
            assert!(String::from_utf8(e.data.clone()).unwrap().starts_with('m'));
            assert!(e
                .extensions
                .as_ref()
                .unwrap()
                .fields
                .contains_key("traceparent"));
            *seen.entry(e.id.clone()).or_default() += 1;
            // The first event is answered RETRY once: it comes back.
            let status = if retried.is_none() {
                retried = Some(e.id.clone());
                1
            } else {
                0
            };
            s.send_msg(&processed(&e.id, status));
        }
        publisher.await.unwrap();
        assert_eq!(seen.len(), 20);
        assert_eq!(seen[retried.as_ref().unwrap()], 2);
        assert_eq!(s.close().await, 0);
        // Unlisted once the stream is gone.
        let deadline = std::time::Instant::now() + WAIT;
        while streaming_listed(d.http) != 0 {
            assert!(std::time::Instant::now() < deadline, "still listed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

#[test]
fn in_memory_events_from_every_worker_reach_the_stream() {
    let dir = resources_of("pubsub.in-memory", &[], "");
    run(&dir, "stream-topic");
}

#[test]
fn redis_streams_feed_the_stream() {
    if !services::redis("redis_streams_feed_the_stream") {
        return;
    }
    let topic = services::unique_app_id("stream");
    let group = services::unique_app_id("group");
    let dir = resources_of(
        "pubsub.redis",
        &[("redisHost", services::REDIS), ("consumerID", &group)],
        "",
    );
    run(&dir, &topic);
    services::Plain::connect(services::REDIS).call(&["DEL", &topic]);
}

#[test]
fn bad_openings_fail_as_go() {
    let dir = resources_of("pubsub.in-memory", &[], "")
        .display()
        .to_string();
    let (_d, addr) = start_with_grpc(&["--resources-path", &dir], &[]);
    rt().block_on(async {
        // An event answer before any initial request.
        let mut s = Stream::open(addr, PATH, &[]).await;
        s.send_msg(&processed("x", 0));
        assert_eq!(s.finish().await, 2);
        let mut s = Stream::open(addr, PATH, &[]).await;
        s.send_msg(&initial("pubsub", ""));
        assert_eq!(s.finish().await, 2);
        let mut s = Stream::open(addr, PATH, &[]).await;
        s.send_msg(&initial("nope", "t"));
        assert_eq!(s.finish().await, 3, "unknown pubsub: INVALID_ARGUMENT");
        // A second initial request ends the stream.
        let mut s = subscribe(addr, "t").await;
        s.send_msg(&initial("pubsub", "t"));
        assert_eq!(s.finish().await, 2);
    });
}
