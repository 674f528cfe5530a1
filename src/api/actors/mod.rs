//! Actors: the per-actor turn lock, the placement ring, and Dapr's
//! dueTime/period/ttl formats and timer schedule (Go: `pkg/actors/**`,
//! `pkg/placement/hashing`, dapr/kit `time`).
//!
//! The submodules here are leaves: they import only ground modules
//! (`config`, `metrics`, `net`, `proto`), never their `api` siblings.

pub mod duration;
pub mod lock;
pub mod ring;
pub mod schedule;
