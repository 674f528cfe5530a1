//! The DNS-SD records a Dapr sidecar announces and looks for, exactly as
//! Go daprd writes and reads them through `github.com/grandcat/zeroconf`
//! v1.0.0 (contrib `nameresolution/mdns`):
//!
//! - service (browse) name `<app-id>.local.` — the app ID is the whole
//!   service type, not an RFC 6763 `_name._tcp` pair;
//! - instance `<hostname>:<pid>.<app-id>.local.`;
//! - host `<hostname>.local.`;
//! - `SRV` port: the internal gRPC port; `TXT`: the single string `<app-id>`;
//!   `A`/`AAAA`: the sidecar's host address (not the machine's interfaces).
//!
//! Records carry TTL 3200 s, addresses 120 s; a goodbye repeats them with
//! TTL 0. A querier takes an instance from one response only when that
//! response also holds its `SRV`, `TXT` and an address, and its first `TXT`
//! string is the app ID (Go's resolver skips anything else).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::{RData, A, AAAA, PTR, SRV, TXT};
use simple_dns::{Name, Packet, PacketFlag, Question, ResourceRecord, CLASS, QTYPE, TYPE};

/// The mDNS IPv4 group.
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
/// The mDNS port.
pub const PORT: u16 = 5353;
/// TTL of the service records (zeroconf's server default).
pub const TTL: u32 = 3200;
/// TTL of address records (RFC 6762 §10, as zeroconf).
pub const ADDRESS_TTL: u32 = 120;
/// The DNS-SD service type enumeration name.
const SERVICES: &str = "_services._dns-sd._udp.local.";

/// Go's `trimDot`.
fn trim_dot(s: &str) -> &str {
    s.trim_matches('.')
}

/// The browse name of `app_id` (zeroconf's `ServiceName()` for service
/// `<app-id>` in domain `local.`).
pub fn service_name(app_id: &str) -> String {
    format!("{}.local.", trim_dot(app_id))
}

/// A name as a comparison key: labels, lower-cased, joined by dots.
fn key(name: &Name<'_>) -> String {
    let mut out = String::new();
    for (i, label) in name.get_labels().iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&String::from_utf8_lossy(label.as_ref()).to_ascii_lowercase());
    }
    out
}

/// The comparison key of a name given as text.
fn text_key(name: &str) -> String {
    trim_dot(name).to_ascii_lowercase()
}

/// This sidecar's registration.
#[derive(Clone, Debug)]
pub struct Service {
    app_id: String,
    service: String,
    instance: String,
    host: String,
    port: u16,
    addr: IpAddr,
}

impl Service {
    /// Go's names for `app_id` on `hostname` in process `pid`, reachable at
    /// `addr:port`. Fails when a name does not fit DNS (a label over 63
    /// bytes, a name over 255).
    pub fn new(
        app_id: &str,
        hostname: &str,
        pid: u32,
        addr: IpAddr,
        port: u16,
    ) -> Result<Service, String> {
        let service = service_name(app_id);
        // zeroconf: instance `<host>:<pid>`, host `<host>.<domain>.` (the
        // domain is appended even when the host name already ends in it).
        let instance = format!("{}:{pid}.{service}", trim_dot(hostname));
        let host = format!("{}.local.", trim_dot(hostname));
        for n in [&service, &instance, &host] {
            Name::new(n).map_err(|e| format!("{n:?} is not a valid DNS name: {e}"))?;
        }
        TXT::new()
            .with_string(app_id)
            .map_err(|e| format!("app id {app_id:?} does not fit a TXT string: {e}"))?;
        Ok(Service {
            app_id: app_id.to_owned(),
            service,
            instance,
            host,
            port,
            addr,
        })
    }

    /// The app ID.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The instance name (`<host>:<pid>.<app-id>.local.`).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn name<'a>(&self, s: &'a str) -> Name<'a> {
        // Checked in `new`.
        Name::new_unchecked(s)
    }

    fn ptr(&self, ttl: u32) -> ResourceRecord<'_> {
        ResourceRecord::new(
            self.name(&self.service),
            CLASS::IN,
            ttl,
            RData::PTR(PTR(self.name(&self.instance))),
        )
    }

    fn type_ptr(&self, ttl: u32) -> ResourceRecord<'_> {
        ResourceRecord::new(
            self.name(SERVICES),
            CLASS::IN,
            ttl,
            RData::PTR(PTR(self.name(&self.service))),
        )
    }

    fn srv(&self, ttl: u32, flush: bool) -> ResourceRecord<'_> {
        ResourceRecord::new(
            self.name(&self.instance),
            CLASS::IN,
            ttl,
            RData::SRV(SRV {
                priority: 0,
                weight: 0,
                port: self.port,
                target: self.name(&self.host),
            }),
        )
        .with_cache_flush(flush)
    }

    fn txt(&self, ttl: u32, flush: bool) -> ResourceRecord<'_> {
        let mut txt = TXT::new();
        // Checked in `new`.
        let _ = txt.add_string(&self.app_id);
        ResourceRecord::new(self.name(&self.instance), CLASS::IN, ttl, RData::TXT(txt))
            .with_cache_flush(flush)
    }

    fn address(&self, ttl: u32, flush: bool) -> ResourceRecord<'_> {
        let ttl = if ttl > 0 { ADDRESS_TTL } else { 0 };
        let rdata = match self.addr {
            IpAddr::V4(a) => RData::A(A::from(a)),
            IpAddr::V6(a) => RData::AAAA(AAAA::from(a)),
        };
        ResourceRecord::new(self.name(&self.host), CLASS::IN, ttl, rdata).with_cache_flush(flush)
    }

    /// zeroconf's `composeLookupAnswers`: everything in the answer section.
    fn lookup_answers<'a>(&'a self, packet: &mut Packet<'a>, ttl: u32, flush: bool) {
        packet.answers.push(self.srv(ttl, true));
        packet.answers.push(self.txt(ttl, true));
        packet.answers.push(self.ptr(ttl));
        packet.answers.push(self.type_ptr(ttl));
        packet.answers.push(self.address(ttl, flush));
    }

    /// An unsolicited announcement (TTL 3200), or with `goodbye` the same
    /// records at TTL 0, which tell every cache to drop them.
    pub fn announcement(&self, goodbye: bool) -> Vec<u8> {
        let mut packet = reply(0);
        self.lookup_answers(&mut packet, if goodbye { 0 } else { TTL }, true);
        build(&packet)
    }

    /// The answer to a multicast query, as zeroconf's server gives it: the
    /// browse name gets `PTR` with `SRV`, `TXT` and the address as
    /// additional records (unless the query already knows the `PTR`), the
    /// instance name gets all records, the type enumeration name gets the
    /// service `PTR`. Queries carrying an authority section (probes) are
    /// ignored. `Some((packet, unicast))` when there is something to say;
    /// `unicast` when a question asked for a unicast reply (QU bit).
    pub fn answer(&self, query: &Packet<'_>) -> Option<(Vec<u8>, bool)> {
        if query.has_flags(PacketFlag::RESPONSE) || !query.name_servers.is_empty() {
            return None;
        }
        let (service, instance, types) = (
            text_key(&self.service),
            text_key(&self.instance),
            text_key(SERVICES),
        );
        let mut packet = reply(query.id());
        let mut unicast = false;
        for q in &query.questions {
            let before = packet.answers.len();
            let name = key(&q.qname);
            if name == service {
                if !self.known(query) {
                    packet.answers.push(self.ptr(TTL));
                    packet.additional_records.push(self.srv(TTL, false));
                    packet.additional_records.push(self.txt(TTL, false));
                    packet.additional_records.push(self.address(TTL, false));
                }
            } else if name == instance {
                self.lookup_answers(&mut packet, TTL, false);
            } else if name == types {
                packet.answers.push(self.type_ptr(TTL));
            }
            if packet.answers.len() > before && q.unicast_response {
                unicast = true;
            }
        }
        if packet.answers.is_empty() {
            return None;
        }
        Some((build(&packet), unicast))
    }

    /// RFC 6762 §7.1 known-answer suppression, as zeroconf checks it: the
    /// query lists our `PTR` with at least half its TTL left.
    fn known(&self, query: &Packet<'_>) -> bool {
        let (service, instance) = (text_key(&self.service), text_key(&self.instance));
        query.answers.iter().any(|rr| match &rr.rdata {
            RData::PTR(p) => key(&rr.name) == service && key(&p.0) == instance && rr.ttl >= TTL / 2,
            _ => false,
        })
    }
}

fn reply(id: u16) -> Packet<'static> {
    let mut packet = Packet::new_reply(id);
    packet.set_flags(PacketFlag::AUTHORITATIVE_ANSWER);
    packet
}

fn build(packet: &Packet<'_>) -> Vec<u8> {
    // Only names checked in `Service::new` and fixed-size records: a
    // failure would be a bug; an empty packet is never sent.
    packet.build_bytes_vec_compressed().unwrap_or_default()
}

/// The query for every instance of `app_id` (a multicast `PTR` question,
/// as zeroconf's `Browse` sends it). `None` when the ID is no DNS name.
pub fn browse_query(app_id: &str) -> Option<Vec<u8>> {
    let service = service_name(app_id);
    let name = Name::new(&service).ok()?;
    let mut packet = Packet::new_query(0);
    packet.questions.push(Question::new(
        name,
        QTYPE::TYPE(TYPE::PTR),
        simple_dns::QCLASS::CLASS(CLASS::IN),
        false,
    ));
    packet.build_bytes_vec_compressed().ok()
}

/// One sidecar instance a response told about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Its app ID (the instance's first `TXT` string).
    pub app_id: String,
    /// Its internal gRPC address from the first `A` record (`ip:port`).
    pub v4: Option<String>,
    /// Its internal gRPC address from the first `AAAA` record (`[ip]:port`).
    pub v6: Option<String>,
    /// The records came with TTL 0: the instance is leaving.
    pub goodbye: bool,
}

#[derive(Default)]
struct Partial {
    port: Option<u16>,
    target: Option<String>,
    text: Option<String>,
    ttl: u32,
    v4: Option<Ipv4Addr>,
    v6: Option<Ipv6Addr>,
}

/// The complete instances in a response (zeroconf's client `mainloop` plus
/// the resolver's `TXT` check), in no particular order.
pub fn seen(packet: &Packet<'_>) -> Vec<Seen> {
    if !packet.has_flags(PacketFlag::RESPONSE) {
        return Vec::new();
    }
    let records = || {
        packet
            .answers
            .iter()
            .chain(&packet.name_servers)
            .chain(&packet.additional_records)
    };
    let mut entries: HashMap<String, Partial> = HashMap::new();
    for rr in records() {
        match &rr.rdata {
            RData::PTR(p) => {
                // Only a PTR from `<x>.local.` to `<instance>.<x>.local.`
                // names a DNS-SD instance (type enumeration PTRs do not).
                let (from, to) = (key(&rr.name), key(&p.0));
                if to.ends_with(&format!(".{from}")) {
                    entries.entry(to).or_default().ttl = rr.ttl;
                }
            }
            RData::SRV(s) => {
                let e = entries.entry(key(&rr.name)).or_default();
                e.port = Some(s.port);
                e.target = Some(key(&s.target));
                e.ttl = rr.ttl;
            }
            RData::TXT(t) => {
                let e = entries.entry(key(&rr.name)).or_default();
                e.text = t.iter_raw().next().map(|(k, v)| match v {
                    Some(v) => format!(
                        "{}={}",
                        String::from_utf8_lossy(k),
                        String::from_utf8_lossy(v)
                    ),
                    None => String::from_utf8_lossy(k).into_owned(),
                });
                e.ttl = rr.ttl;
            }
            _ => {}
        }
    }
    for rr in records() {
        let host = key(&rr.name);
        for e in entries.values_mut() {
            if e.target.as_deref() != Some(host.as_str()) {
                continue;
            }
            match &rr.rdata {
                RData::A(a) if e.v4.is_none() => e.v4 = Some(Ipv4Addr::from(a.address)),
                RData::AAAA(a) if e.v6.is_none() => e.v6 = Some(Ipv6Addr::from(a.address)),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for (instance, e) in entries {
        let (Some(port), Some(app_id)) = (e.port, e.text) else {
            continue;
        };
        if e.v4.is_none() && e.v6.is_none() {
            continue;
        }
        // The instance must live under the app ID's browse name.
        if !instance.ends_with(&format!(".{}", text_key(&service_name(&app_id)))) {
            continue;
        }
        out.push(Seen {
            v4: e.v4.map(|ip| format!("{ip}:{port}")),
            v6: e.v6.map(|ip| format!("[{ip}]:{port}")),
            goodbye: e.ttl == 0,
            app_id,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Service {
        Service::new(
            "orders",
            "box1",
            42,
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
            50002,
        )
        .unwrap()
    }

    fn names(rrs: &[ResourceRecord<'_>]) -> Vec<(String, TYPE, u32, bool)> {
        rrs.iter()
            .map(|r| (key(&r.name), r.rdata.type_code(), r.ttl, r.cache_flush))
            .collect()
    }

    #[test]
    fn go_names() {
        let s = me();
        assert_eq!(s.service, "orders.local.");
        assert_eq!(s.instance(), "box1:42.orders.local.");
        assert_eq!(s.host, "box1.local.");
        // zeroconf appends the domain even to a host name that has it.
        let s = Service::new("a", "h.local", 1, IpAddr::V4(Ipv4Addr::LOCALHOST), 1).unwrap();
        assert_eq!(s.host, "h.local.local.");
        assert!(Service::new(&"x".repeat(64), "h", 1, IpAddr::V4(Ipv4Addr::LOCALHOST), 1).is_err());
    }

    #[test]
    fn announcement_is_seen_and_goodbye_too() {
        let bytes = me().announcement(false);
        let p = Packet::parse(&bytes).unwrap();
        assert!(p.has_flags(PacketFlag::RESPONSE | PacketFlag::AUTHORITATIVE_ANSWER));
        let n = names(&p.answers);
        assert_eq!(n[0], ("box1:42.orders.local".into(), TYPE::SRV, 3200, true));
        assert_eq!(n[1], ("box1:42.orders.local".into(), TYPE::TXT, 3200, true));
        assert_eq!(n[2], ("orders.local".into(), TYPE::PTR, 3200, false));
        assert_eq!(
            n[3],
            (
                "_services._dns-sd._udp.local".into(),
                TYPE::PTR,
                3200,
                false
            )
        );
        assert_eq!(n[4], ("box1.local".into(), TYPE::A, 120, true));
        assert_eq!(
            seen(&p),
            vec![Seen {
                app_id: "orders".into(),
                v4: Some("10.0.0.7:50002".into()),
                v6: None,
                goodbye: false
            }]
        );
        let bye = me().announcement(true);
        let p = Packet::parse(&bye).unwrap();
        assert!(p.answers.iter().all(|r| r.ttl == 0));
        assert!(seen(&p)[0].goodbye);
    }

    #[test]
    fn answers_browse_instance_and_type_queries() {
        let s = me();
        let q = browse_query("ORDERS").unwrap();
        let (bytes, unicast) = s.answer(&Packet::parse(&q).unwrap()).unwrap();
        assert!(!unicast);
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!(
            names(&p.answers),
            vec![("orders.local".into(), TYPE::PTR, 3200, false)]
        );
        assert_eq!(p.additional_records.len(), 3);
        assert_eq!(seen(&p)[0].v4.as_deref(), Some("10.0.0.7:50002"));

        // Another app's browse: nothing to say.
        let q = browse_query("payments").unwrap();
        assert!(s.answer(&Packet::parse(&q).unwrap()).is_none());

        // The instance name (QU bit: unicast) and the type enumeration.
        let mut q = Packet::new_query(7);
        q.questions.push(Question::new(
            Name::new("box1:42.orders.local").unwrap(),
            QTYPE::TYPE(TYPE::SRV),
            simple_dns::QCLASS::CLASS(CLASS::IN),
            true,
        ));
        q.questions.push(Question::new(
            Name::new(SERVICES).unwrap(),
            QTYPE::TYPE(TYPE::PTR),
            simple_dns::QCLASS::CLASS(CLASS::IN),
            false,
        ));
        let (bytes, unicast) = s.answer(&q).unwrap();
        assert!(unicast);
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!(p.id(), 7);
        assert_eq!(p.answers.len(), 6);

        // Known-answer suppression and probes.
        let qb = browse_query("orders").unwrap();
        let mut q = Packet::parse(&qb).unwrap();
        q.answers.push(s.ptr(TTL / 4));
        assert!(s.answer(&q).is_some(), "a stale known answer is answered");
        q.answers.push(s.ptr(TTL));
        assert!(s.answer(&q).is_none());
        let mut q = Packet::parse(&qb).unwrap();
        q.name_servers.push(s.srv(TTL, false));
        assert!(s.answer(&q).is_none());
        // A response is not a query.
        assert!(s
            .answer(&Packet::parse(&s.announcement(false)).unwrap())
            .is_none());
    }

    #[test]
    fn incomplete_or_foreign_instances_are_skipped() {
        let s = me();
        // Without its address record.
        let mut p = reply(0);
        p.answers.push(s.srv(TTL, true));
        p.answers.push(s.txt(TTL, true));
        assert!(seen(&p).is_empty());
        // A TXT naming another app than the browse name.
        let other = Service::new(
            "orders",
            "box2",
            1,
            IpAddr::V6("fe80::1".parse().unwrap()),
            7,
        )
        .unwrap();
        let mut p = reply(0);
        p.answers.push(other.srv(TTL, true));
        let mut txt = TXT::new();
        txt.add_string("payments").unwrap();
        p.answers.push(ResourceRecord::new(
            other.name(&other.instance),
            CLASS::IN,
            TTL,
            RData::TXT(txt),
        ));
        p.answers.push(other.address(TTL, true));
        assert!(seen(&p).is_empty());
        // IPv6 addresses come bracketed.
        let hello = other.announcement(false);
        let p = Packet::parse(&hello).unwrap();
        assert_eq!(seen(&p)[0].v6.as_deref(), Some("[fe80::1]:7"));
        // Garbage never panics.
        assert!(
            Packet::parse(&[0x80; 40]).is_err()
                || seen(&Packet::parse(&[0x80; 40]).unwrap()).is_empty()
        );
    }
}
