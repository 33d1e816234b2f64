//! `vpcflow query --conversations`: the records of one connection (the same protocol,
//! addresses and ports in both directions, over every window and on every ENI that
//! logged it) as one row with initiator, responder and both directions' traffic.
//!
//! Each row is seen from the task's side: a task ENI that logged the connection (the
//! opener's, where both ends are tasks), its task, service and peer as the join
//! attributed them, and the bytes its own address sent (`bytes_out`) and received.
//!
//! A connection seen on two ENIs (a task calling another task) is logged twice per
//! direction; each direction's packets and bytes are the largest seen on any one ENI,
//! not the sum, so nothing is counted twice. Who opened it is decided by
//! [`crate::initiator`], the same rules as the audit's, from all of its records.

use arrow::array::{FixedSizeBinaryArray, Int32Array, Int64Array};
use arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;
use serde_json::Value;

use super::{filter, Filters};
use crate::columns::{addr, col, int32, int64, TextCol, Times};
use crate::enrich::PeerKind;
use crate::initiator::{self, Connection, Sent};
use crate::intern::{DictIds, Strings, NONE};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Endpoint {
    addr: [u8; 16],
    port: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ConvKey {
    protocol: i32,
    a: Endpoint,
    b: Endpoint,
}

#[derive(Clone, Copy, Debug, Default)]
struct Side {
    records: u64,
    packets: u64,
    bytes: u64,
}

/// What one ENI's records say of a connection: the owner of the ENI, its own address
/// and the peer, as the join attributed its first record (strings interned).
#[derive(Clone, Copy, Debug)]
struct Who {
    kind: u32,
    task: u32,
    service: u32,
    own: Option<[u8; 16]>,
    peer: Option<[u8; 16]>,
    peer_kind: u32,
    peer_service: u32,
}

impl Default for Who {
    fn default() -> Who {
        Who {
            kind: NONE,
            task: NONE,
            service: NONE,
            own: None,
            peer: None,
            peer_kind: NONE,
            peer_service: NONE,
        }
    }
}

impl Who {
    fn remap(self, m: &dyn Fn(u32) -> u32) -> Who {
        Who {
            kind: m(self.kind),
            task: m(self.task),
            service: m(self.service),
            peer_kind: m(self.peer_kind),
            peer_service: m(self.peer_service),
            ..self
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Conv {
    /// Per ENI: traffic a->b and b->a, and what its records say of the connection.
    per_eni: Vec<(u32, [Side; 2], Who)>,
    /// What a and b sent.
    sent: [Sent; 2],
    /// Whether a (b) was the own address of an ENI that logged the connection.
    logged_by: [bool; 2],
    accept: bool,
    reject: bool,
    first: Option<i64>,
    last: Option<i64>,
}

impl Conv {
    fn merge(&mut self, o: &Conv, remap: &dyn Fn(u32) -> u32) {
        for (eni, sides, who) in &o.per_eni {
            let eni = remap(*eni);
            match self.per_eni.iter_mut().find(|(e, _, _)| *e == eni) {
                Some((_, mine, _)) => {
                    for d in 0..2 {
                        mine[d].records += sides[d].records;
                        mine[d].packets = mine[d].packets.saturating_add(sides[d].packets);
                        mine[d].bytes = mine[d].bytes.saturating_add(sides[d].bytes);
                    }
                }
                None => self.per_eni.push((eni, *sides, who.remap(remap))),
            }
        }
        for d in 0..2 {
            self.sent[d].merge(&o.sent[d]);
            self.logged_by[d] |= o.logged_by[d];
        }
        self.accept |= o.accept;
        self.reject |= o.reject;
        self.first = super::min_opt(self.first, o.first);
        self.last = super::max_opt(self.last, o.last);
    }
}

/// The order of rows of equal bytes: protocol, initiator, responder.
type Order = (i32, Endpoint, Endpoint);

/// One row: its columns' names and values.
type Row = Vec<(&'static str, Value)>;

/// The conversations of the records that pass some filters, as a fold over the input.
pub struct Conversations<'a>(pub &'a Filters);

impl Conversations<'_> {
    /// The flow-log columns it reads, besides those of its filters and of the join.
    pub const COLUMNS: [&'static str; 9] = [
        "interface_id",
        "srcaddr",
        "dstaddr",
        "srcport",
        "dstport",
        "protocol",
        "tcp_flags",
        "action",
        "end",
    ];
}

impl crate::fold::Fold for Conversations<'_> {
    type State = ConversationState;
    fn state(&self) -> ConversationState {
        ConversationState::default()
    }
    fn add(&self, state: &mut ConversationState, batch: &RecordBatch) {
        state.add(batch, self.0);
    }
    fn merge(&self, into: &mut ConversationState, from: ConversationState) {
        into.merge(from);
    }
}

/// The mergeable state of a conversations query.
#[derive(Clone, Default)]
pub struct ConversationState {
    enis: Strings,
    convs: FxHashMap<ConvKey, Conv>,
}

impl ConversationState {
    /// Filters an enriched batch and folds its records into connections.
    pub fn add(&mut self, batch: &RecordBatch, filters: &Filters) {
        let batch = filter(batch, filters);
        let eni = TextCol::of(&batch, "interface_id");
        let src: Option<&FixedSizeBinaryArray> = col(&batch, "srcaddr");
        let dst: Option<&FixedSizeBinaryArray> = col(&batch, "dstaddr");
        let own: Option<&FixedSizeBinaryArray> = col(&batch, "own_addr");
        let sport: Option<&Int32Array> = col(&batch, "srcport");
        let dport: Option<&Int32Array> = col(&batch, "dstport");
        let proto: Option<&Int32Array> = col(&batch, "protocol");
        let flags: Option<&Int32Array> = col(&batch, "tcp_flags");
        let packets: Option<&Int64Array> = col(&batch, "packets");
        let bytes: Option<&Int64Array> = col(&batch, "bytes");
        let times = Times::of(&batch);
        let action = TextCol::of(&batch, "action");
        let peer: Option<&FixedSizeBinaryArray> = col(&batch, "peer_addr");
        let mut kind = DictIds::of(&batch, "eni_kind");
        let mut task = DictIds::of(&batch, "task_arn");
        let mut service = DictIds::of(&batch, "service");
        let mut peer_kind = DictIds::of(&batch, "peer_kind");
        let mut peer_service = DictIds::of(&batch, "peer_service");
        for row in 0..batch.num_rows() {
            let (Some(s), Some(d)) = (addr(src, row), addr(dst, row)) else {
                continue; // NODATA / SKIPDATA records belong to no connection
            };
            let from = Endpoint {
                addr: s,
                port: int32(sport, row).unwrap_or(0),
            };
            let to = Endpoint {
                addr: d,
                port: int32(dport, row).unwrap_or(0),
            };
            let (a, b, dir) = if from <= to {
                (from, to, 0)
            } else {
                (to, from, 1)
            };
            let t = times.at(row);
            let key = ConvKey {
                protocol: int32(proto, row).unwrap_or(-1),
                a,
                b,
            };
            let eni_id = match eni.as_ref().and_then(|c| c.get(row)) {
                Some(e) => self.enis.id(e),
                None => crate::intern::NONE,
            };
            let c = self.convs.entry(key).or_default();
            let strings = &mut self.enis;
            let mut id = |d: &mut Option<DictIds>| d.as_mut().map_or(NONE, |d| d.id(row, strings));
            let sides = match c.per_eni.iter().position(|(e, _, _)| *e == eni_id) {
                Some(i) => &mut c.per_eni[i].1,
                None => {
                    let who = Who {
                        kind: id(&mut kind),
                        task: id(&mut task),
                        service: id(&mut service),
                        own: addr(own, row),
                        peer: addr(peer, row),
                        peer_kind: id(&mut peer_kind),
                        peer_service: id(&mut peer_service),
                    };
                    c.per_eni.push((eni_id, [Side::default(); 2], who));
                    &mut c.per_eni.last_mut().expect("just pushed").1
                }
            };
            sides[dir].records += 1;
            sides[dir].packets = sides[dir]
                .packets
                .saturating_add(int64(packets, row).unwrap_or(0).max(0) as u64);
            sides[dir].bytes = sides[dir]
                .bytes
                .saturating_add(int64(bytes, row).unwrap_or(0).max(0) as u64);
            let act = action.as_ref().and_then(|x| x.get(row));
            let (accepted, rejected) = (act == Some("ACCEPT"), act == Some("REJECT"));
            c.accept |= accepted;
            c.reject |= rejected;
            c.sent[dir].add(int32(flags, row), t, accepted, rejected);
            if let Some(o) = addr(own, row) {
                c.logged_by[0] |= o == a.addr;
                c.logged_by[1] |= o == b.addr;
            }
            c.first = super::min_opt(c.first, t);
            c.last = super::max_opt(c.last, times.last(row));
        }
    }

    pub fn merge(&mut self, other: ConversationState) {
        if self.convs.is_empty() && self.enis.values.is_empty() {
            *self = other;
            return;
        }
        let remap = self.enis.remap(&other.enis);
        let id = |e: u32| {
            if e == crate::intern::NONE {
                e
            } else {
                remap[e as usize]
            }
        };
        for (k, c) in other.convs {
            self.convs.entry(k).or_default().merge(&c, &id);
        }
    }

    /// One row per connection, most bytes first; at most `top`.
    pub fn finish(&self, top: Option<usize>) -> Vec<Vec<(&'static str, Value)>> {
        // Sorted so that the connections between the same two addresses are adjacent.
        let mut convs: Vec<(&ConvKey, &Conv)> = self.convs.iter().collect();
        convs.sort_by_key(|(k, _)| (k.protocol, k.a.addr, k.b.addr, k.a.port, k.b.port));
        // Port stability over the connections between the same two addresses.
        let stable = initiator::stability_by_group(
            &convs,
            |(k, _)| (k.protocol, k.a.addr, k.b.addr),
            |(k, _)| [k.a.port as u16, k.b.port as u16],
        );
        let mut rows: Vec<(u64, Order, Row)> = convs
            .into_iter()
            .zip(stable)
            .map(|((k, c), stable)| {
                let connection = Connection {
                    sent: c.sent,
                    ports: [k.a.port.max(0) as u16, k.b.port.max(0) as u16],
                    logged_by: c.logged_by,
                    listens: [false; 2],
                    stable,
                };
                let (init, how) = match initiator::opener(&connection) {
                    Some(o) => (o.side, o.by.as_str()),
                    None => (0, "undecided"),
                };
                let (i, r) = if init == 0 { (k.a, k.b) } else { (k.b, k.a) };
                let best = |d: usize| -> Side {
                    c.per_eni
                        .iter()
                        .map(|(_, s, _)| s[d])
                        .max_by_key(|s| (s.bytes, s.packets))
                        .unwrap_or_default()
                };
                let (sent, recv) = (best(init), best(1 - init));
                let mut enis: Vec<&str> = c
                    .per_eni
                    .iter()
                    .filter_map(|(e, _, _)| self.enis.get(*e))
                    .collect();
                enis.sort_unstable();
                let port = |p: i32| if p > 0 { Value::from(p) } else { Value::Null };
                let records: u64 = c
                    .per_eni
                    .iter()
                    .map(|(_, s, _)| s[0].records + s[1].records)
                    .sum();
                // The task's side: a task ENI that logged it, the opener's first; else
                // any ENI that did, by the same order.
                let side = c
                    .per_eni
                    .iter()
                    .min_by_key(|(e, _, w)| {
                        (
                            self.enis.get(w.kind) != Some(PeerKind::Task.as_str()),
                            w.own != Some(i.addr),
                            self.enis.get(*e),
                        )
                    })
                    .map(|(e, _, w)| (*e, *w));
                let text = |id: u32| self.enis.get(id).map_or(Value::Null, Value::from);
                // Bytes from the own side of that ENI, when its address is an end.
                let out_dir = side.and_then(|(_, w)| {
                    let own = w.own?;
                    (own == k.a.addr)
                        .then_some(0)
                        .or((own == k.b.addr).then_some(1))
                });
                let (bytes_out, bytes_in) = match out_dir {
                    Some(d) => (Value::from(best(d).bytes), Value::from(best(1 - d).bytes)),
                    None => (Value::Null, Value::Null),
                };
                let (eni, who) = match side {
                    Some((e, w)) => (text(e), w),
                    None => (Value::Null, Who::default()),
                };
                let peer_addr = who
                    .peer
                    .map_or(Value::Null, |p| Value::from(crate::net::addr_string(&p)));
                let action = match (c.accept, c.reject) {
                    (true, false) => "ACCEPT",
                    (false, true) => "REJECT",
                    (true, true) => "ACCEPT+REJECT",
                    _ => "-",
                };
                let t = |x: Option<i64>| {
                    x.map_or(Value::Null, |t| Value::from(crate::time::rfc3339(t)))
                };
                let row = vec![
                    ("eni", eni),
                    ("task", text(who.task)),
                    ("service", text(who.service)),
                    ("peer", peer_addr),
                    ("peer_kind", text(who.peer_kind)),
                    ("peer_service", text(who.peer_service)),
                    ("protocol", Value::from(k.protocol)),
                    ("initiator", Value::from(crate::net::addr_string(&i.addr))),
                    ("responder", Value::from(crate::net::addr_string(&r.addr))),
                    ("initiator_by", Value::from(how)),
                    ("client_port", port(i.port)),
                    ("server_port", port(r.port)),
                    ("records", Value::from(records)),
                    ("bytes_out", bytes_out),
                    ("bytes_in", bytes_in),
                    ("first_seen", t(c.first)),
                    ("last_seen", t(c.last)),
                    ("initiator_port", port(i.port)),
                    ("responder_port", port(r.port)),
                    ("enis", Value::from(enis.join(" "))),
                    ("action", Value::from(action)),
                    ("request_packets", Value::from(sent.packets)),
                    ("request_bytes", Value::from(sent.bytes)),
                    ("response_packets", Value::from(recv.packets)),
                    ("response_bytes", Value::from(recv.bytes)),
                ];
                let order = (k.protocol, i, r);
                (sent.bytes + recv.bytes, order, row)
            })
            .collect();
        // Most bytes first, then by protocol, opener and responder.
        rows.sort_by(|x, y| y.0.cmp(&x.0).then_with(|| x.1.cmp(&y.1)));
        if let Some(n) = top {
            rows.truncate(n);
        }
        rows.into_iter().map(|(_, _, r)| r).collect()
    }
}
