//! This machine's identity as peers see it: its address and host name.

/// Go's `utils.GetHostAddress`: `DAPR_HOST_IP`, else the address the
/// kernel would send from toward documentation addresses (a UDP "connect",
/// which sends nothing), skipping the CLAT range 192.0.0.0/29.
pub fn host_address(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if let Some(ip) = env("DAPR_HOST_IP").filter(|v| !v.is_empty()) {
        return Some(ip);
    }
    for (bind, probe) in [
        ("0.0.0.0:0", "192.0.2.1:80"),
        ("[::]:0", "[2001:db8::1]:80"),
    ] {
        let Ok(sock) = std::net::UdpSocket::bind(bind) else {
            continue;
        };
        if sock.connect(probe).is_err() {
            continue;
        }
        let Ok(local) = sock.local_addr() else {
            continue;
        };
        let ip = local.ip();
        let clat = matches!(ip, std::net::IpAddr::V4(v4) if v4.octets()[..3] == [192, 0, 0] && v4.octets()[3] < 8);
        if !ip.is_unspecified() && !clat {
            return Some(ip.to_string());
        }
    }
    None
}

/// The host name (Go's `os.Hostname`).
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dapr_host_ip_wins() {
        let env = |k: &str| (k == "DAPR_HOST_IP").then(|| "1.2.3.4".to_string());
        assert_eq!(super::host_address(&env).as_deref(), Some("1.2.3.4"));
    }
}
