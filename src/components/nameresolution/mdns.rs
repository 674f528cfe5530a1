//! `nameresolution.mdns`, the self-hosted default — partly: multicast DNS
//! is not built, so only this sidecar's own app ID resolves (to its own
//! internal gRPC address). Any other app ID is not found, with the message
//! contrib's mDNS resolver gives after browsing the network in vain
//! (`couldn't find service: <id>`), but at once rather than after its
//! one-second browse. Use `nameresolution.sqlite` to reach other sidecars
//! on one host.

use super::{Instance, ResolveError, ResolveRequest};

/// The own-app-only mDNS resolver.
#[derive(Debug)]
pub struct Mdns {
    app_id: String,
    address: String,
}

impl Mdns {
    /// Validates the instance as contrib's `Init` does.
    pub fn new(instance: Instance) -> Result<Self, String> {
        if instance.app_id.is_empty() {
            return Err("name is missing".into());
        }
        if instance.address.is_empty() {
            return Err("address is missing".into());
        }
        if instance.internal_port == 0 {
            return Err("port is missing or invalid".into());
        }
        Ok(Self {
            address: super::sqlite::join_host_port(&instance.address, instance.internal_port),
            app_id: instance.app_id,
        })
    }

    /// Our own address for our app ID; not found otherwise.
    pub fn resolve(&self, req: &ResolveRequest<'_>) -> Result<String, ResolveError> {
        if req.id == self.app_id {
            Ok(self.address.clone())
        } else {
            Err(ResolveError::NotFound(format!(
                "couldn't find service: {}",
                req.id
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_id_resolves() {
        let m = Mdns::new(Instance {
            app_id: "a".into(),
            address: "10.0.0.1".into(),
            internal_port: 50002,
            ..Default::default()
        })
        .unwrap();
        let req = |id| ResolveRequest {
            id,
            namespace: "default",
            port: 50002,
        };
        assert_eq!(m.resolve(&req("a")).unwrap(), "10.0.0.1:50002");
        assert_eq!(
            m.resolve(&req("b")).unwrap_err().to_string(),
            "couldn't find service: b"
        );
        assert_eq!(
            Mdns::new(Instance::default()).unwrap_err(),
            "name is missing"
        );
    }
}
