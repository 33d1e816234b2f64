//! The state of one connection: its key, its traffic by direction and action, what
//! the rules admitted of its peer, and the interned tuples that name owners and peers.

use rustc_hash::FxHashMap;

use crate::initiator::Sent;
use crate::intern::{Strings, NONE};
use crate::policy::rules::private_aws;
use crate::policy::rules::Checks;

/// A protocol number that was not logged.
pub(super) const NO_PROTOCOL: u16 = u16::MAX;

/// `traffic-path` 7: through a gateway VPC endpoint (S3, DynamoDB).
pub(super) const GATEWAY_ENDPOINT: i32 = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct ConnKey {
    /// The task's ENI id and its owner (task, service, cluster), interned.
    pub(super) eni: u32,
    pub(super) owner: u32,
    pub(super) peer_addr: [u8; 16],
    pub(super) protocol: u16,
    pub(super) own_port: u16,
    pub(super) peer_port: u16,
    /// The peer's ENI, kind, task, service and cluster, interned.
    pub(super) peer: u32,
}

/// Traffic of one direction and action: counts and time span (unix seconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub records: u64,
    pub packets: u64,
    pub bytes: u64,
    pub first: i64,
    pub last: i64,
}

impl Traffic {
    pub(super) fn add(&mut self, packets: u64, bytes: u64, start: i64, end: i64) {
        self.merge(&Traffic {
            records: 1,
            packets,
            bytes,
            first: start,
            last: end,
        });
    }

    pub fn merge(&mut self, o: &Traffic) {
        if o.records == 0 {
            return;
        }
        if self.records == 0 {
            *self = *o;
            return;
        }
        self.records += o.records;
        self.packets = self.packets.saturating_add(o.packets);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
    }
}

/// How an address was known to be an AWS service's (`private_aws::BY_FIELD`,
/// `BY_RANGES`), whether the connection went through a gateway endpoint, and whether it
/// was marked encrypted (bits of [`More::marks`]).
pub(super) const AWS_BY: u8 = private_aws::BY_FIELD | private_aws::BY_RANGES;
/// A record of the connection went through a gateway VPC endpoint (`traffic-path` 7).
pub(super) const AWS_VIA_GATEWAY: u8 = 4;
/// A record of the connection has `encryption_status` 1, 2 or 3.
pub(super) const ENCRYPTED: u8 = 8;
const _: () = assert!(AWS_BY & (AWS_VIA_GATEWAY | ENCRYPTED) == 0);

#[derive(Clone, Debug)]
pub(super) struct Conn {
    /// What the task (0) and the peer (1) sent.
    pub(super) sent: [Sent; 2],
    /// Peer -> task records, by action (ACCEPT, REJECT).
    pub(super) inbound: [Traffic; 2],
    /// The checks that admitted the peer (or did not run), for every record of the
    /// connection (see [`crate::policy::rules::admitted`]).
    pub(super) allowed: Checks,
    /// What only the egress, isolation, cleartext and PrivateLink checks need: kept
    /// apart so that an audit of ingress alone holds no more per connection.
    pub(super) more: Option<Box<More>>,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct More {
    /// Task -> peer records, by action.
    pub(super) outbound: [Traffic; 2],
    /// Accepted records the flow log marks not encrypted (`encryption_status` 0).
    pub(super) unencrypted: Traffic,
    /// Accepted records without `encryption_status` (absent or null).
    pub(super) unknown_encryption: Traffic,
    /// Accepted records to or from an AWS service's address.
    pub(super) aws: Traffic,
    /// The AWS service (interned); how it was known, a gateway endpoint, an
    /// encrypted record (`AWS_BY`, `AWS_VIA_GATEWAY`, `ENCRYPTED`).
    pub(super) aws_service: u32,
    pub(super) marks: u8,
}

impl Default for Conn {
    fn default() -> Conn {
        Conn {
            sent: Default::default(),
            inbound: Default::default(),
            allowed: Checks::ALL,
            more: None,
        }
    }
}

impl Default for More {
    fn default() -> More {
        More {
            outbound: Default::default(),
            unencrypted: Traffic::default(),
            unknown_encryption: Traffic::default(),
            aws: Traffic::default(),
            aws_service: NONE,
            marks: 0,
        }
    }
}

impl Conn {
    /// Merges another worker's connection (all but `aws_service`, whose string ids
    /// differ).
    pub(super) fn merge(&mut self, o: &Conn) {
        for i in 0..2 {
            self.sent[i].merge(&o.sent[i]);
            self.inbound[i].merge(&o.inbound[i]);
        }
        self.allowed = self.allowed.and(o.allowed);
        if let Some(om) = &o.more {
            let m = self.more.get_or_insert_with(Default::default);
            for i in 0..2 {
                m.outbound[i].merge(&om.outbound[i]);
            }
            m.unencrypted.merge(&om.unencrypted);
            m.unknown_encryption.merge(&om.unknown_encryption);
            m.aws.merge(&om.aws);
            m.marks |= om.marks;
        }
    }

    /// The task -> peer (`dir` 0) or peer -> task (1) records, by action.
    pub(super) fn traffic(&self, dir: usize) -> [Traffic; 2] {
        match (dir, &self.more) {
            (1, _) => self.inbound,
            (_, Some(m)) => m.outbound,
            (_, None) => Default::default(),
        }
    }
}

/// Of two interned AWS service names (either `NONE`), the first in text order: the same
/// whatever order records and workers' states come in.
pub(super) fn first_service(strings: &Strings, a: u32, b: u32) -> u32 {
    match (strings.get(a), strings.get(b)) {
        (Some(x), Some(y)) if y < x => b,
        (Some(_), _) => a,
        (None, _) => b,
    }
}

/// Interned tuples of interned strings: owners of task ENIs, and peers.
#[derive(Clone, Debug, Default)]
pub(super) struct Tuples<const N: usize> {
    pub(super) ids: FxHashMap<[u32; N], u32>,
    pub(super) values: Vec<[u32; N]>,
}

impl<const N: usize> Tuples<N> {
    pub(super) fn id(&mut self, t: [u32; N]) -> u32 {
        let next = self.values.len() as u32;
        *self.ids.entry(t).or_insert_with(|| {
            self.values.push(t);
            next
        })
    }

    /// Ids here of another table's tuples, whose strings `m` maps to ids here.
    pub(super) fn absorb(&mut self, other: &Tuples<N>, m: impl Fn(u32) -> u32) -> Vec<u32> {
        other.values.iter().map(|t| self.id(t.map(&m))).collect()
    }
}

/// Who a peer is: ENI, kind, task, service, cluster, load balancer (places in the
/// peer tuple; interned, `NONE` when unknown).
pub(super) const PEER_ENI: usize = 0;
pub(super) const PEER_KIND: usize = 1;
pub(super) const PEER_TASK: usize = 2;
pub(super) const PEER_SERVICE: usize = 3;
pub(super) const PEER_CLUSTER: usize = 4;
pub(super) const PEER_LB: usize = 5;
