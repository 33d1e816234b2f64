//! Words the rules' reasons share: what the peer is, the ports, and what happened from
//! the side that opened the connections.

use super::{Facts, Opened};
use crate::enrich::PeerKind;
use crate::policy::finding::Finding;

/// The finding's service, or "this task".
pub fn service(f: &Finding) -> &str {
    f.service.as_deref().unwrap_or("this task")
}

/// What a peer is, in words (the kind's words of [`PeerKind::words`]).
pub fn peer(f: &Finding, facts: &Facts) -> String {
    let eni = f.peer_eni_id.as_deref().unwrap_or("?");
    let Some(kind) = f.peer_kind.as_deref().and_then(PeerKind::parse) else {
        return format!("ENI {eni}");
    };
    match kind {
        PeerKind::Task => {
            let of_cluster = match (facts.peer_cluster, f.cluster.as_deref()) {
                (Some(c), Some(own)) if !crate::policy::same_cluster(c, own) => {
                    format!(" in cluster {}", crate::enrich::arn_name(c))
                }
                _ => String::new(),
            };
            match &f.peer_service {
                Some(s) => format!("a task of service {s}{of_cluster}"),
                None => format!("a task that belongs to no service ({eni}){of_cluster}"),
            }
        }
        PeerKind::Other => format!("ENI {eni}"),
        k if k.is_address_group() => k.words().a.to_string(),
        k => match facts.peer_lb {
            Some(lb) if k.is_load_balancer() => format!("load balancer {lb} ({eni})"),
            _ => format!("{} ({eni})", k.words().a),
        },
    }
}

/// " port 80", " ports 80, 443", or nothing.
pub fn ports(ports: &[u16]) -> String {
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    match list.len() {
        0 => String::new(),
        1 => format!(" port {}", list[0]),
        _ => format!(" ports {}", list.join(", ")),
    }
}

/// " on port 80", " on ports 80, 443", or nothing.
pub fn on_ports(p: &[u16]) -> String {
    match ports(p) {
        p if p.is_empty() => p,
        p => format!(" on{p}"),
    }
}

/// What happened, from the side that opened the connections: "10.0.2.31 (a task of
/// service worker) connected to port 80", "its task tried to connect to 203.0.113.9 (an
/// internet address) on port 443, rejected", "its task exchanged traffic with ...".
pub fn what_happened(f: &Finding, facts: &Facts) -> String {
    let peer = format!("{} ({})", f.peer_addr, peer(f, facts));
    let ports = ports(&f.ports);
    let on = on_ports(&f.ports);
    let (tried, rejected) = if f.action == "REJECT" {
        ("tried to connect", ", rejected")
    } else {
        ("connected", "")
    };
    match facts.opened {
        x if x == Opened::ByPeer as u8 => format!("{peer} {tried} to{ports}{rejected}"),
        x if x == Opened::ByTask as u8 => format!("its task {tried} to {peer}{on}{rejected}"),
        _ => format!("its task exchanged traffic with {peer}{on}{rejected}"),
    }
}
