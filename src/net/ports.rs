//! Go daprd's "stable random" port for the internal gRPC server, used when
//! `--dapr-internal-grpc-port` is empty or 0 (Go: `pkg/ports.GetStablePort`).
//!
//! The port is derived from what tells one sidecar from another on a host:
//! the app ID, the working directory, the user ID and the host name, joined
//! by `|` and hashed with SHA-256. The first two bytes of the hash (little
//! end first) modulo `65535 - start` are added to `start` (47300), so a
//! restarted sidecar gets the same port and peers that cached its address
//! still reach it. When that port is taken, the runtime listens on any
//! free port instead (`runtime::start`).

use sha2::{Digest, Sha256};

/// Go's first port of the range.
pub const STABLE_PORT_START: u16 = 47300;

/// The port Go's derivation picks for `app_id` in this process's
/// environment, before checking that it is free.
pub fn derived_port(start: u16, app_id: &str) -> Option<u16> {
    let cwd = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    derive(start, &[app_id, &cwd, &uid().to_string(), &hostname()])
}

/// The derivation itself: `sha256(parts.join("|"))`, bytes 0 and 1 as a
/// little-endian number, modulo the rest of the port range.
fn derive(start: u16, parts: &[&str]) -> Option<u16> {
    let max_offset = 65535u32.checked_sub(u32::from(start)).filter(|&m| m > 0)?;
    let hash = Sha256::digest(parts.join("|").as_bytes());
    let rnd = (u32::from(hash[0]) | u32::from(hash[1]) << 8) % max_offset;
    u16::try_from(u32::from(start) + rnd).ok()
}

/// The process's user ID (the owner of `/proc/self`), as Go's `os.Getuid`.
fn uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

/// The host name, as Go's `os.Hostname` reads it on Linux.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_matches_go() {
        // Vectors computed independently (Python's hashlib) with Go's formula
        // `start + (h[0] | h[1]<<8) % (65535-start)`.
        let parts = ["myapp", "/home/dev/project", "1000", "laptop"];
        assert_eq!(derive(47300, &parts), Some(64955));
        assert_eq!(derive(47300, &["nodeapp", "/tmp", "0", "vm"]), Some(60579));
        // Stable: the same inputs give the same port; another app ID another one.
        assert_eq!(derive(47300, &parts), derive(47300, &parts));
        let other = derive(47300, &["other", "/home/dev/project", "1000", "laptop"]);
        assert_ne!(derive(47300, &parts), other);
        // Always inside [start, 65535).
        for id in ["a", "b", "c", "d", "e", "f", "g"] {
            let p = derive(47300, &[id]).unwrap();
            assert!((47300..65535).contains(&p), "{p}");
        }
        assert_eq!(derive(65535, &["a"]), None);
    }
}
