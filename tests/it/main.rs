//! The one integration-test binary (linked once). Tests start the real
//! `daprd` binary or the runtime in-process on loopback and talk to it as
//! clients do.

// Tests assert by unwrapping: a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod app;
mod harness;
mod services;

mod actors;
mod actors_grpc;
mod actors_sdk;
mod app_health;
mod bindings;
mod cli;
mod configuration;
mod grpc;
mod grpc_reflection;
mod health;
mod http_server;
mod invoke;
mod invoke_external;
mod invoke_grpc;
mod invoke_h2c;
mod invoke_mdns;
mod invoke_remote;
mod layering;
mod lifecycle;
mod lock;
mod metadata;
mod metrics;
mod metrics_app_channel;
mod metrics_components;
mod middleware;
mod outbox;
mod placement;
mod proto_bootstrap;
mod pubsub;
mod pubsub_grpc_app;
mod pubsub_redis;
mod pubsub_streaming;
mod python_sdk;
mod redis_cluster;
mod redis_modes;
mod scheduler;
mod secrets;
mod state;
mod state_redis;
