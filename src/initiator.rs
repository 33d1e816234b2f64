//! Who opened a connection: one decision per connection (protocol, both addresses, both
//! ports), from all of its records, shared by the audit and `query --conversations`.
//!
//! The evidence, strongest first (the contract's order); the first that applies wins:
//!
//! 1. **TCP flags** (v3+): the opener sends SYN without ACK, the server SYN-ACK. AWS
//!    ORs the flags of an aggregation window, so an opener shows 2 or 3 and a server 18
//!    or 19; a long-lived connection seen again in later windows without SYN keeps the
//!    direction of the window that had it, since the decision covers every record.
//! 2. **An earlier outbound record**: when an endpoint whose own ENI logged the
//!    connection sent an accepted record that starts strictly earlier than every record
//!    the other way, it opened the connection, and the later records the other way are
//!    responses, even REJECTed ones (a network ACL dropping the replies).
//! 3. **A REJECT**: the sender of a rejected record tried to open the connection.
//! 4. **Declared listener ports**: the side whose port is a listener port of its
//!    service (the policy's `ports`) is the server.
//! 5. **Port stability**: across the connections between the same two endpoints, the
//!    side whose port stays the same is the server (a client picks a new ephemeral
//!    port per connection).
//! 6. **Port class**: a port below 32768 facing one at or above it is the server's.
//!
//! When evidence conflicts within a rule (both sides sent SYN, both ports are listener
//! ports), the rule does not apply and the next one is tried. When none applies the
//! connection is undecided: callers make no finding of it and count it.

/// What one side of a connection was seen sending, over all of its records. Kept
/// small (24 bytes): the audit holds two per suspicious connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The earliest start of any record; [`Sent::NEVER`] when none had one.
    first: i64,
    /// The earliest start of an ACCEPTed record; [`Sent::NEVER`] when none.
    first_accepted: i64,
    /// `SYN`, `SYN_ACK`, `REJECTED`.
    flags: u8,
}

const SYN: u8 = 1;
const SYN_ACK: u8 = 2;
const REJECTED: u8 = 4;

impl Default for Sent {
    fn default() -> Sent {
        Sent {
            first: Sent::NEVER,
            first_accepted: Sent::NEVER,
            flags: 0,
        }
    }
}

impl Sent {
    /// "No such record": later than any start.
    pub const NEVER: i64 = i64::MAX;

    /// Notes one record this side sent.
    pub fn add(&mut self, flags: Option<i32>, start: Option<i64>, accepted: bool, rejected: bool) {
        if let Some(f) = flags {
            if f & 0x12 == 0x02 {
                self.flags |= SYN;
            }
            if f & 0x12 == 0x12 {
                self.flags |= SYN_ACK;
            }
        }
        if rejected {
            self.flags |= REJECTED;
        }
        if let Some(t) = start {
            self.first = self.first.min(t);
            if accepted {
                self.first_accepted = self.first_accepted.min(t);
            }
        }
    }

    pub fn merge(&mut self, o: &Sent) {
        self.flags |= o.flags;
        self.first = self.first.min(o.first);
        self.first_accepted = self.first_accepted.min(o.first_accepted);
    }

    /// A record with SYN and no ACK.
    pub fn syn(&self) -> bool {
        self.flags & SYN != 0
    }

    /// A record with SYN and ACK.
    pub fn synack(&self) -> bool {
        self.flags & SYN_ACK != 0
    }

    /// A REJECTed record.
    pub fn rejected(&self) -> bool {
        self.flags & REJECTED != 0
    }
}

/// Everything known about one connection, side 0 and side 1.
#[derive(Clone, Copy, Debug, Default)]
pub struct Connection {
    pub sent: [Sent; 2],
    /// Each side's port (0: none, as for ICMP).
    pub ports: [u16; 2],
    /// Whether each side's own ENI logged the connection, so that its records the
    /// other way are complete enough for rule 2.
    pub logged_by: [bool; 2],
    /// Whether each side's port is a declared listener port of its service (rule 4).
    pub listens: [bool; 2],
    /// Whether each side's port stays the same across the connections between the
    /// two endpoints while the other side's does not (rule 5).
    pub stable: [bool; 2],
}

/// The evidence that decided who opened a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Evidence {
    TcpFlags,
    EarlierOutbound,
    Reject,
    ListenerPort,
    PortStability,
    PortClass,
}

impl Evidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::TcpFlags => "tcp-flags",
            Evidence::EarlierOutbound => "earlier-outbound",
            Evidence::Reject => "reject",
            Evidence::ListenerPort => "listener-port",
            Evidence::PortStability => "port-stability",
            Evidence::PortClass => "port-class",
        }
    }
}

/// Who opened a connection: the side (0 or 1) and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opener {
    pub side: usize,
    pub by: Evidence,
}

/// The one side for which `test` holds, if exactly one does.
fn only(test: impl Fn(usize) -> bool) -> Option<usize> {
    match (test(0), test(1)) {
        (true, false) => Some(0),
        (false, true) => Some(1),
        _ => None,
    }
}

/// The first port at or above this is ephemeral (Linux's default range starts here).
pub const EPHEMERAL_FROM: u16 = 32768;

/// Decides who opened the connection (see the module documentation); `None` when no
/// evidence applies.
pub fn opener(c: &Connection) -> Option<Opener> {
    let found = |side: usize, by: Evidence| Some(Opener { side, by });
    let [a, b] = c.sent;
    // 1. TCP flags: the SYN's sender, else the other side of the SYN-ACK.
    if let Some(s) = only(|s| c.sent[s].syn()) {
        return found(s, Evidence::TcpFlags);
    }
    if let Some(s) = only(|s| c.sent[s].synack()) {
        return found(1 - s, Evidence::TcpFlags);
    }
    // 2. An accepted record strictly earlier than everything the other way (NEVER is
    // later than every start).
    let earlier = |s: usize| {
        let (me, other) = if s == 0 { (a, b) } else { (b, a) };
        c.logged_by[s] && me.first_accepted != Sent::NEVER && me.first_accepted < other.first
    };
    if let Some(s) = only(earlier) {
        return found(s, Evidence::EarlierOutbound);
    }
    // 3. A REJECT's sender tried to open.
    if let Some(s) = only(|s| c.sent[s].rejected()) {
        return found(s, Evidence::Reject);
    }
    if c.ports[0] == 0 || c.ports[1] == 0 {
        return None;
    }
    // 4-6: the server side is found; the other side opened.
    if let Some(server) = only(|s| c.listens[s]) {
        return found(1 - server, Evidence::ListenerPort);
    }
    if let Some(server) = only(|s| c.stable[s]) {
        return found(1 - server, Evidence::PortStability);
    }
    if let Some(server) = only(|s| c.ports[s] < EPHEMERAL_FROM) {
        return found(1 - server, Evidence::PortClass);
    }
    None
}

/// Port stability of many connections, grouped: `conns` sorted so that the connections
/// between the same two endpoints are adjacent (`group` says which belong together),
/// `ports` gives each one's (side 0, side 1) ports. Returns [`stability`] per
/// connection, in order.
pub fn stability_by_group<T, G: PartialEq>(
    conns: &[T],
    group: impl Fn(&T) -> G,
    ports: impl Fn(&T) -> [u16; 2],
) -> Vec<[bool; 2]> {
    let mut out = Vec::with_capacity(conns.len());
    for run in conns.chunk_by(|a, b| group(a) == group(b)) {
        // A connection alone shares no port with another: neither side is stable.
        if let [_] = run {
            out.push([false, false]);
            continue;
        }
        let p: Vec<[u16; 2]> = run.iter().map(&ports).collect();
        out.extend(stability(&p));
    }
    out
}

/// Port stability over the connections between two endpoints: given the ports of each
/// connection (side 0, side 1), whether each connection's side-0 and side-1 ports are
/// the stable ones. A port is stable in a connection when another connection of the
/// group shares it while no other connection shares the other side's port.
pub fn stability(ports: &[[u16; 2]]) -> Vec<[bool; 2]> {
    let mut count: [rustc_hash::FxHashMap<u16, u32>; 2] = Default::default();
    for p in ports {
        for s in 0..2 {
            *count[s].entry(p[s]).or_default() += 1;
        }
    }
    ports
        .iter()
        .map(|p| {
            let shared = [count[0][&p[0]] > 1, count[1][&p[1]] > 1];
            [shared[0] && !shared[1], shared[1] && !shared[0]]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(ports: [u16; 2]) -> Connection {
        Connection {
            ports,
            logged_by: [true, false],
            ..Connection::default()
        }
    }

    #[test]
    fn flags_first() {
        let mut c = conn([8080, 51000]);
        c.listens = [true, false];
        c.sent[0].add(Some(2), Some(10), true, false);
        c.sent[1].add(Some(18), Some(10), true, false);
        assert_eq!(
            opener(&c),
            Some(Opener {
                side: 0,
                by: Evidence::TcpFlags
            })
        );
        // SYN from both (port reuse): the SYN-ACK decides.
        c.sent[1].add(Some(2), None, true, false);
        assert_eq!(opener(&c).map(|o| o.side), Some(0));
        assert_eq!(std::mem::size_of::<Sent>(), 24);
    }

    #[test]
    fn earlier_outbound_beats_reject_only_when_strictly_earlier() {
        let mut c = conn([45000, 443]);
        c.sent[0].add(None, Some(100), true, false);
        c.sent[1].add(None, Some(102), false, true);
        assert_eq!(
            opener(&c),
            Some(Opener {
                side: 0,
                by: Evidence::EarlierOutbound
            })
        );
        let mut same = conn([45000, 40500]);
        same.sent[0].add(None, Some(100), true, false);
        same.sent[1].add(None, Some(100), false, true);
        assert_eq!(
            opener(&same),
            Some(Opener {
                side: 1,
                by: Evidence::Reject
            })
        );
        // Only a side whose own ENI logged the connection counts for rule 2.
        let mut peer_only = conn([45000, 40500]);
        peer_only.sent[1].add(None, Some(100), true, false);
        peer_only.sent[0].add(None, Some(101), true, false);
        assert_eq!(opener(&peer_only), None);
    }

    #[test]
    fn ports_listener_stability_class() {
        let mut c = conn([40404, 50100]);
        c.listens = [false, true];
        assert_eq!(
            opener(&c),
            Some(Opener {
                side: 0,
                by: Evidence::ListenerPort
            })
        );
        let mut c = conn([40404, 50100]);
        c.stable = [true, false];
        assert_eq!(
            opener(&c),
            Some(Opener {
                side: 1,
                by: Evidence::PortStability
            })
        );
        assert_eq!(
            opener(&conn([443, 45000])),
            Some(Opener {
                side: 1,
                by: Evidence::PortClass
            })
        );
        assert_eq!(opener(&conn([40000, 50051])), None);
        assert_eq!(opener(&conn([80, 443])), None);
        assert_eq!(opener(&conn([0, 0])), None);
    }

    #[test]
    fn stable_ports() {
        let s = stability(&[[40000, 50051], [40001, 50051], [40002, 50051]]);
        assert!(s.iter().all(|x| *x == [false, true]));
        assert_eq!(stability(&[[40000, 50051]]), [[false, false]]);
        // Mixed: the peer connects to the task's 8080 twice, the task to the peer's 443
        // twice.
        let s = stability(&[[8080, 50001], [8080, 50002], [41000, 443], [41001, 443]]);
        assert_eq!(
            s,
            [[true, false], [true, false], [false, true], [false, true]]
        );
    }
}
