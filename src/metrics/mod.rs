//! STUB — replaced by the metrics module.
use std::sync::Arc;
use std::time::Duration;
pub struct Metrics {
    shards: Vec<Arc<Shard>>,
}
impl Metrics {
    pub fn new(_app_id: &str, workers: usize) -> Arc<Metrics> {
        Arc::new(Metrics {
            shards: (0..workers).map(|_| Arc::new(Shard)).collect(),
        })
    }
    pub fn shard(&self, w: usize) -> &Arc<Shard> {
        &self.shards[w]
    }
    pub fn render(&self) -> String {
        String::new()
    }
}
pub struct Shard;
impl Shard {
    pub fn record_http(
        &self,
        _m: &http::Method,
        _p: &str,
        _s: u16,
        _l: Duration,
        _a: u64,
        _b: u64,
    ) {
    }
}
