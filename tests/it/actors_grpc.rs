//! A gRPC app hosting actors through `SubscribeActorEventsAlpha1` (Dapr
//! 1.18): the app, written here on tonic, dials daprd's gRPC API, registers
//! its actor type on the stream and answers daprd's callbacks on it.
//!
//! Placement is the real `placement` binary; what it stores
//! (`/placement/state`) shows what the sidecar reported.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daprd::proto::dapr::proto::runtime::v1 as pb;
use pb::subscribe_actor_events_request_alpha1::RequestType as FromApp;
use pb::subscribe_actor_events_response_alpha1::ResponseType as ToApp;
use tokio::sync::mpsc;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic_prost::ProstCodec;

use crate::harness::*;
use crate::services;

/// The actor type the app hosts.
const TYPE: &str = "Counter";
const SUBSCRIBE: &str = "/dapr.proto.runtime.v1.Dapr/SubscribeActorEventsAlpha1";

// === placement ===

/// The real `placement`, with `/placement/state` served.
fn placement() -> crate::placement::Placement {
    crate::placement::Placement::start(&["--metadata-enabled"])
}

/// Polls `cond` for up to [`WAIT`].
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until placement stores exactly `entities` (sorted) as hosted.
fn wait_hosted(placement: &crate::placement::Placement, entities: &[&str]) {
    eventually(&format!("placement to store {entities:?}"), || {
        let state = placement.state();
        let mut stored: Vec<String> = state["tables"]
            .as_object()
            .into_iter()
            .flat_map(|t| t.values())
            .flat_map(|t| t["hosts"].as_array().cloned().unwrap_or_default())
            .flat_map(|h| h["entities"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect();
        stored.sort();
        stored == entities
    });
}

// === the gRPC app ===

/// What the app saw.
#[derive(Default)]
struct Seen {
    /// Timer fires: (actor id, timer name, callback).
    timers: Vec<(String, String, String)>,
    /// Actors deactivated.
    deactivated: Vec<String>,
    /// Calls of `hang` (never answered).
    hanging: usize,
}

/// The app's answer to one callback (`None`: no answer).
fn answer(seen: &Mutex<Seen>, msg: ToApp) -> Option<FromApp> {
    Some(match msg {
        ToApp::InvokeRequest(r) => {
            let custom = r
                .metadata
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-custom"))
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let text = |s: &str| HashMap::from([("content-type".to_owned(), s.to_owned())]);
            match r.method.as_str() {
                "echo" => {
                    let mut metadata = text("text/plain");
                    metadata.insert("x-from-app".into(), "yes".into());
                    FromApp::InvokeResponse(pb::SubscribeActorEventsRequestInvokeResponseAlpha1 {
                        id: r.id,
                        data: format!(
                            "{}|{}|{}|{}|{custom}",
                            r.actor_type,
                            r.actor_id,
                            r.method,
                            String::from_utf8_lossy(&r.data)
                        )
                        .into_bytes(),
                        metadata,
                        error: false,
                    })
                }
                "fail" => {
                    FromApp::InvokeResponse(pb::SubscribeActorEventsRequestInvokeResponseAlpha1 {
                        id: r.id,
                        data: b"boom".to_vec(),
                        metadata: text("text/plain"),
                        error: true,
                    })
                }
                "broken" => FromApp::RequestFailed(pb::SubscribeActorEventsRequestFailedAlpha1 {
                    id: r.id,
                    code: 13,
                    message: "kaput".into(),
                }),
                "hang" => {
                    seen.lock().unwrap().hanging += 1;
                    return None;
                }
                _ => FromApp::RequestFailed(pb::SubscribeActorEventsRequestFailedAlpha1 {
                    id: r.id,
                    code: 5,
                    message: "no such method".into(),
                }),
            }
        }
        ToApp::TimerRequest(r) => {
            let mut g = seen.lock().unwrap();
            g.timers
                .push((r.actor_id.clone(), r.name.clone(), r.callback.clone()));
            let fires = g.timers.iter().filter(|t| t.1 == r.name).count();
            FromApp::TimerResponse(pb::SubscribeActorEventsRequestReminderResponseAlpha1 {
                id: r.id,
                // The second fire stops the timer.
                cancel: fires >= 2,
            })
        }
        ToApp::ReminderRequest(r) => {
            FromApp::ReminderResponse(pb::SubscribeActorEventsRequestReminderResponseAlpha1 {
                id: r.id,
                cancel: false,
            })
        }
        ToApp::DeactivateRequest(r) => {
            seen.lock().unwrap().deactivated.push(r.actor_id);
            FromApp::DeactivateResponse(pb::SubscribeActorEventsRequestDeactivateResponseAlpha1 {
                id: r.id,
            })
        }
        ToApp::InitialResponse(_) => return None,
    })
}

fn initial(entities: &[&str]) -> pb::SubscribeActorEventsRequestAlpha1 {
    pb::SubscribeActorEventsRequestAlpha1 {
        request_type: Some(FromApp::InitialRequest(
            pb::SubscribeActorEventsRequestInitialAlpha1 {
                entities: entities.iter().map(|e| e.to_string()).collect(),
                actor_idle_timeout: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                ..Default::default()
            },
        )),
    }
}

async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Opens the stream with `first` as its first message.
async fn open(
    addr: SocketAddr,
    first: pb::SubscribeActorEventsRequestAlpha1,
) -> Result<
    (
        mpsc::Sender<pb::SubscribeActorEventsRequestAlpha1>,
        tonic::Streaming<pb::SubscribeActorEventsResponseAlpha1>,
    ),
    tonic::Status,
> {
    let mut client = tonic::client::Grpc::new(channel(addr).await);
    client.ready().await.unwrap();
    let (tx, rx) = mpsc::channel(64);
    tx.send(first).await.unwrap();
    let response = client
        .streaming(
            tonic::Request::new(ReceiverStream::new(rx)),
            PathAndQuery::from_static(SUBSCRIBE),
            ProstCodec::<
                pb::SubscribeActorEventsRequestAlpha1,
                pb::SubscribeActorEventsResponseAlpha1,
            >::default(),
        )
        .await?;
    Ok((tx, response.into_inner()))
}

/// The app's registered stream.
struct ActorHost {
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
    half_close: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ActorHost {
    /// Registers `entities` on daprd's gRPC API at `addr` and answers its
    /// callbacks from then on.
    async fn start(addr: SocketAddr, entities: &[&str]) -> ActorHost {
        Self::register(addr, initial(entities)).await
    }

    /// As [`ActorHost::start`], with the registration `first`.
    async fn register(addr: SocketAddr, first: pb::SubscribeActorEventsRequestAlpha1) -> ActorHost {
        let (tx, mut inbound) = open(addr, first).await.unwrap();
        let first = inbound.message().await.unwrap().unwrap();
        assert!(
            matches!(first.response_type, Some(ToApp::InitialResponse(_))),
            "{first:?}"
        );
        let seen: Arc<Mutex<Seen>> = Default::default();
        let (half_close, mut closing) = tokio::sync::oneshot::channel::<()>();
        let s = seen.clone();
        let task = tokio::spawn(async move {
            let mut tx = Some(tx);
            loop {
                let msg = tokio::select! {
                    m = inbound.message() => m,
                    _ = &mut closing, if tx.is_some() => {
                        tx = None;
                        continue;
                    }
                };
                let Ok(Some(msg)) = msg else {
                    return;
                };
                let reply = msg.response_type.and_then(|m| answer(&s, m));
                if let (Some(reply), Some(tx)) = (reply, &tx) {
                    let reply = pb::SubscribeActorEventsRequestAlpha1 {
                        request_type: Some(reply),
                    };
                    if tx.send(reply).await.is_err() {
                        return;
                    }
                }
            }
        });
        ActorHost {
            seen,
            task,
            half_close: Some(half_close),
        }
    }

    /// Ends the stream as a crashing app does (a reset).
    fn abort(&self) {
        self.task.abort();
    }

    /// Ends its half of the stream as a closing app does.
    fn close(&mut self) {
        if let Some(c) = self.half_close.take() {
            let _ = c.send(());
        }
    }
}

// === calls ===

async fn invoke_actor(addr: SocketAddr, id: &str, method: &str) -> Result<Vec<u8>, tonic::Status> {
    let mut client = tonic::client::Grpc::new(channel(addr).await);
    client.ready().await.unwrap();
    let req = pb::InvokeActorRequest {
        actor_type: TYPE.into(),
        actor_id: id.into(),
        method: method.into(),
        data: b"hi".to_vec(),
        metadata: HashMap::from([("x-custom".to_owned(), "grpc".to_owned())]),
    };
    let r = client
        .unary(
            tonic::Request::new(req),
            PathAndQuery::from_static("/dapr.proto.runtime.v1.Dapr/InvokeActor"),
            ProstCodec::<pb::InvokeActorRequest, pb::InvokeActorResponse>::default(),
        )
        .await?;
    Ok(r.into_inner().data)
}

fn call(d: &Daprd, id: &str, method: &str) -> HttpResponse {
    request(
        d.http,
        "POST",
        &format!("/v1.0/actors/{TYPE}/{id}/method/{method}"),
        &[("content-type", "text/plain"), ("x-custom", "http")],
        b"yo",
    )
}

/// The hosted types the metadata API lists.
fn hosted(d: &Daprd) -> Vec<String> {
    let m = get(d.http, "/v1.0/metadata").json();
    m["actorRuntime"]["activeActors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["type"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A sidecar for a gRPC app on placement `placement`, with an in-memory
/// actor state store.
fn sidecar(placement: &str) -> Daprd {
    let store = services::component_dir("state.in-memory", &[("actorStateStore", "true")]);
    let app = crate::invoke_grpc::grpc_app().to_string();
    let internal = free_port().to_string();
    Daprd::start(&[
        "--app-port",
        &app,
        "--app-protocol",
        "grpc",
        "--dapr-internal-grpc-port",
        &internal,
        "--placement-host-address",
        placement,
        "--resources-path",
        &store.display().to_string(),
    ])
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

// === tests ===

#[test]
fn calls_timers_and_errors_reach_the_grpc_app_over_its_stream() {
    let rt = runtime();
    let placement = placement();
    let address = placement.grpc.to_string();
    let d = sidecar(&address);
    // Idler's own settings come from entities_config: idle after 300 ms.
    let mut registration = initial(&[TYPE, "Idler"]);
    if let Some(FromApp::InitialRequest(init)) = registration.request_type.as_mut() {
        init.entities_config = vec![pb::ActorEntityConfig {
            entities: vec!["Idler".into()],
            actor_idle_timeout: Some(prost_types::Duration {
                seconds: 0,
                nanos: 300_000_000,
            }),
            ..Default::default()
        }];
    }
    let host = rt.block_on(ActorHost::register(d.grpc, registration));
    wait_hosted(&placement, &[TYPE, "Idler"]);
    assert_eq!(hosted(&d), [TYPE, "Idler"]);

    // InvokeActor: the app's data back.
    let data = rt.block_on(invoke_actor(d.grpc, "1", "echo")).unwrap();
    assert_eq!(String::from_utf8_lossy(&data), "Counter|1|echo|hi|grpc");
    // The HTTP API: the app's data, content type and metadata as headers.
    let r = call(&d, "2", "echo");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "Counter|2|echo|yo|http");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("x-from-app"), Some("yes"));

    // An actor error (error=true): its payload goes back as the answer,
    // marked, with no API error (Go's ActorError).
    let data = rt.block_on(invoke_actor(d.grpc, "1", "fail")).unwrap();
    assert_eq!(data, b"boom");
    let r = call(&d, "1", "fail");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "boom");
    assert_eq!(r.header("x-daprerrorresponseheader"), Some("true"));

    // request_failed: NotFound is "actor method not found", others are
    // "error from actor service".
    let r = call(&d, "1", "nope");
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_ACTOR_INVOKE_METHOD");
    assert_eq!(
        r.json()["message"],
        "error invoke actor method: actor method not found: nope"
    );
    let e = rt
        .block_on(invoke_actor(d.grpc, "1", "broken"))
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Internal, "{e:?}");
    assert_eq!(
        e.message(),
        "error invoke actor method: error from actor service: kaput"
    );

    // A timer fires down the stream; the app's cancel stops it.
    let r = request(
        d.http,
        "POST",
        &format!("/v1.0/actors/{TYPE}/3/timers/tick"),
        &[("content-type", "application/json")],
        br#"{"dueTime":"0s","period":"100ms","callback":"onTick","data":"x"}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    eventually("two timer fires", || {
        host.seen.lock().unwrap().timers.len() >= 2
    });
    std::thread::sleep(Duration::from_millis(400));
    let timers = host.seen.lock().unwrap().timers.clone();
    assert_eq!(
        timers,
        vec![("3".to_owned(), "tick".to_owned(), "onTick".to_owned()); 2]
    );

    // An idle actor's deactivation goes down the stream too.
    let r = request(d.http, "PUT", "/v1.0/actors/Idler/9/method/echo", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "Idler|9|echo||");
    eventually("Idler/9 deactivated", || {
        host.seen.lock().unwrap().deactivated == ["9"]
    });
    assert!(!host
        .seen
        .lock()
        .unwrap()
        .deactivated
        .contains(&"1".to_owned()));
}

#[test]
fn a_closed_stream_unregisters_its_types_and_a_new_one_hosts_again() {
    let rt = runtime();
    let placement = placement();
    let address = placement.grpc.to_string();
    let d = sidecar(&address);
    let host = rt.block_on(ActorHost::start(d.grpc, &[TYPE]));
    wait_hosted(&placement, &[TYPE]);

    // A call the app never answers fails when the stream goes, not later.
    let r = call(&d, "1", "echo");
    assert_eq!(r.status, 200, "{}", r.text());
    let http = d.http;
    let hanging = std::thread::spawn(move || {
        request(
            http,
            "POST",
            &format!("/v1.0/actors/{TYPE}/1/method/hang"),
            &[],
            b"",
        )
    });
    eventually("the app to see the call", || {
        host.seen.lock().unwrap().hanging == 1
    });
    host.abort();
    let r = hanging.join().unwrap();
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "error invoke actor method: actor host disconnected before responding"
    );

    // The type is gone: placement hears an empty report, the metadata API
    // lists nothing, and calls fail as Go's do once placement moved on.
    wait_hosted(&placement, &[]);
    eventually("the type to be unregistered", || hosted(&d).is_empty());
    let r = call(&d, "1", "echo");
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["errorCode"], "ERR_ACTOR_INVOKE_METHOD");
    let message = r.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("did not find address for actor 'Counter||1'"),
        "{message}"
    );

    // A new stream hosts the type again.
    let mut host = rt.block_on(ActorHost::start(d.grpc, &[TYPE]));
    wait_hosted(&placement, &[TYPE]);
    let r = call(&d, "1", "echo");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "Counter|1|echo|yo|http");

    // An app that half-closes unregisters too.
    host.close();
    wait_hosted(&placement, &[]);
    eventually("the type to be unregistered", || hosted(&d).is_empty());
}

#[test]
fn the_stream_needs_an_initial_request_and_a_grpc_app() {
    let rt = runtime();
    // Without placement the runtime is off: the stream is accepted, and
    // registers nothing.
    let d = Daprd::start(&["--app-protocol", "grpc"]);
    let not_initial = pb::SubscribeActorEventsRequestAlpha1 {
        request_type: Some(FromApp::DeactivateResponse(
            pb::SubscribeActorEventsRequestDeactivateResponseAlpha1 { id: "1".into() },
        )),
    };
    let e = rt.block_on(open(d.grpc, not_initial)).unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert_eq!(
        e.message(),
        "first message must be SubscribeActorEventsRequestInitialAlpha1"
    );
    let host = rt.block_on(ActorHost::start(d.grpc, &[TYPE]));
    assert!(hosted(&d).is_empty());
    host.abort();

    // An HTTP app hosts actors through /dapr/config and HTTP callbacks.
    let port = free_port().to_string();
    let d = Daprd::start(&["--app-port", &port, "--app-protocol", "http"]);
    let e = rt.block_on(open(d.grpc, initial(&[TYPE]))).unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e:?}");
    assert_eq!(
        e.message(),
        "actor callback streaming requires a gRPC app channel"
    );
}
