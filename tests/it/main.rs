//! The one integration-test binary (linked once). Tests start the real
//! `daprd` binary or the runtime in-process on loopback and talk to it as
//! clients do.

mod harness;

mod cli;
mod health;
mod http_server;
mod lifecycle;
mod metadata;
mod metrics;
