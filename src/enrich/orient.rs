//! Orientation: which side of a record is the ENI's own, which is the peer, and so
//! whether the record came in or went out. Decided here, once, for every record; the
//! join writes the answer down as the `own_addr`, `peer_addr`, `inbound` and
//! `direction_by` columns, and the audit, the queries and the conversation view read
//! those columns instead of deciding again.
//!
//! A record logged on an ENI always has the ENI's own address as its source or its
//! destination. Which one, strongest evidence first:
//!
//! 1. **map**: the ENI's addresses from the map (every address any of its rows gives
//!    it);
//! 2. **flow-direction** (v5+): `ingress` means the destination is the ENI's own;
//! 3. **addresses**: what the ENI's own records show. An ENI's own address is in the
//!    VPC, so when exactly one side lies in the VPC CIDRs, that side is the ENI's; the
//!    addresses learned that way (and by 2) are remembered per ENI for the rest of the
//!    unit of input, which then also orients records whose two sides are both in the
//!    VPC. This covers an address the map does not list for an ENI it knows (a
//!    secondary or IPv6 address left out of a CSV map);
//! 4. **map**, again: a side that the map gives to *another* ENI at that time cannot be
//!    this ENI's own address. It comes last because a map's windows can be wider than
//!    the truth (a snapshot's rows are unbounded): an address the ENI's own records
//!    prove to be its own is never turned around by it.
//!
//! When none applies, the record's direction is undecided: its `peer_addr` and
//! `inbound` are null, and the summary counts it. Directions from 3 are inferred, not
//! logged, and the summary says how many records they concern. What is learned depends
//! on the unit of input (a file, or a 16 MiB chunk of a large one), never on the number
//! of threads.
//!
//! The peer's address is taken from `pkt-srcaddr`/`pkt-dstaddr` where they are present,
//! so that a NAT gateway's records show the real hosts behind it.

use rustc_hash::FxHashMap;

/// How a record's direction was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DirectionBy {
    /// The map knows the ENI's addresses, or gives the other side to another ENI.
    Map,
    /// The record's `flow-direction` field.
    FlowDirection,
    /// Inferred from the addresses (which side is in the VPC, what the ENI's other
    /// records showed).
    Addresses,
}

impl DirectionBy {
    pub const ALL: [DirectionBy; 3] = [
        DirectionBy::Map,
        DirectionBy::FlowDirection,
        DirectionBy::Addresses,
    ];

    /// The value of the `direction_by` column.
    pub fn as_str(self) -> &'static str {
        match self {
            DirectionBy::Map => "map",
            DirectionBy::FlowDirection => "flow-direction",
            DirectionBy::Addresses => "addresses",
        }
    }
}

/// The orientation of one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Orientation {
    /// The source is the ENI's own address (the record went out).
    pub outbound: bool,
    pub by: DirectionBy,
}

/// What is known about a record for orienting it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sides<'a> {
    pub src: Option<[u8; 16]>,
    pub dst: Option<[u8; 16]>,
    /// The ENI's addresses from the map (empty when the map does not know it).
    pub mapped: &'a [[u8; 16]],
    /// `flow-direction` as logged.
    pub logged: Option<Logged>,
}

/// A logged `flow-direction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logged {
    Ingress,
    Egress,
}

impl Logged {
    pub fn parse(s: &str) -> Option<Logged> {
        match s {
            "ingress" => Some(Logged::Ingress),
            "egress" => Some(Logged::Egress),
            _ => None,
        }
    }
}

/// Most addresses remembered for one ENI the map does not know. An ENI that seems to
/// own more is not an endpoint (a middlebox that forwards others' traffic): learning
/// stops for it, and its records are oriented only by stronger evidence.
pub const MAX_LEARNED: usize = 8;

/// Addresses learned per ENI id over one unit of input (a file, or a chunk of one):
/// the state of orientation rule 4. Kept per unit, so that what is learned never
/// depends on how units are spread over threads.
#[derive(Debug, Default)]
pub struct Learned {
    own: FxHashMap<Box<str>, Vec<[u8; 16]>>,
}

impl Learned {
    /// The addresses learned for `eni` so far.
    pub fn of(&self, eni: &str) -> &[[u8; 16]] {
        self.own.get(eni).map_or(&[], |v| v.as_slice())
    }

    /// Learns from one record of an ENI: the side that `flow-direction` names, or the
    /// only side inside the VPC.
    pub fn learn(&mut self, eni: &str, s: &Sides, in_vpc: impl Fn(&[u8; 16]) -> bool) {
        let own = match (s.logged, s.src, s.dst) {
            (Some(Logged::Ingress), _, Some(d)) => d,
            (Some(Logged::Egress), Some(src), _) => src,
            (None, Some(src), Some(d)) => match (in_vpc(&src), in_vpc(&d)) {
                (true, false) => src,
                (false, true) => d,
                _ => return,
            },
            _ => return,
        };
        let known = match self.own.get_mut(eni) {
            Some(v) => v,
            None => self.own.entry(eni.into()).or_default(),
        };
        if known.len() <= MAX_LEARNED && !known.contains(&own) {
            known.push(own);
        }
    }

    fn usable<'a>(&self, learned: &'a [[u8; 16]]) -> &'a [[u8; 16]] {
        if learned.len() > MAX_LEARNED {
            &[]
        } else {
            learned
        }
    }
}

/// The record went out when only its source is the ENI's own, came in when only its
/// destination is; otherwise this evidence says nothing.
fn one_side(src_own: bool, dst_own: bool, by: DirectionBy) -> Option<Orientation> {
    (src_own != dst_own).then_some(Orientation {
        outbound: src_own,
        by,
    })
}

/// Decides one record's orientation by rules 1 to 3 (see the module documentation);
/// `learned` are the addresses learned for its ENI. `None`: undecided so far, or a
/// record without addresses (NODATA, SKIPDATA).
pub fn orient(s: &Sides, learned: &[[u8; 16]], state: &Learned) -> Option<Orientation> {
    let (src, dst) = (s.src?, s.dst?);
    let by_addrs = |own: &[[u8; 16]], by| one_side(own.contains(&src), own.contains(&dst), by);
    by_addrs(s.mapped, DirectionBy::Map)
        .or_else(|| {
            s.logged.map(|l| Orientation {
                outbound: l == Logged::Egress,
                by: DirectionBy::FlowDirection,
            })
        })
        .or_else(|| by_addrs(state.usable(learned), DirectionBy::Addresses))
}

/// Rule 4: a side that the map gives to another ENI at the record's time is not this
/// ENI's own, so the other side is. Looked up only when rules 1 to 3 do not decide.
pub fn by_other_eni(src_elsewhere: bool, dst_elsewhere: bool) -> Option<Orientation> {
    one_side(dst_elsewhere, src_elsewhere, DirectionBy::Map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::v4;

    fn vpc(a: &[u8; 16]) -> bool {
        a[12] == 10
    }

    #[test]
    fn evidence_in_order() {
        let (task, inet, other) = (v4(10, 0, 1, 10), v4(198, 51, 100, 7), v4(10, 0, 9, 9));
        let mut learned = Learned::default();
        let s = |src, dst| Sides {
            src: Some(src),
            dst: Some(dst),
            ..Sides::default()
        };
        // Map addresses first, even against a contrary flow-direction.
        let mapped = [task];
        let o = orient(
            &Sides {
                mapped: &mapped,
                logged: Some(Logged::Ingress),
                ..s(task, inet)
            },
            &[],
            &learned,
        );
        assert_eq!(
            o,
            Some(Orientation {
                outbound: true,
                by: DirectionBy::Map
            })
        );
        // Both sides in the VPC, nothing learned: undecided.
        assert_eq!(orient(&s(task, other), learned.of("eni-1"), &learned), None);
        // The internet record teaches the ENI's own address...
        learned.learn("eni-1", &s(inet, task), vpc);
        let o = orient(&s(inet, task), learned.of("eni-1"), &learned);
        assert_eq!(
            o,
            Some(Orientation {
                outbound: false,
                by: DirectionBy::Addresses
            })
        );
        // ...which then orients the VPC-internal one.
        let o = orient(&s(task, other), learned.of("eni-1"), &learned);
        assert_eq!(o.map(|o| o.outbound), Some(true));
        // The other side held by another ENI in the map.
        assert_eq!(
            by_other_eni(false, true),
            Some(Orientation {
                outbound: true,
                by: DirectionBy::Map
            })
        );
        assert_eq!(by_other_eni(true, false).map(|o| o.outbound), Some(false));
        assert_eq!(by_other_eni(true, true), None);
        // An ENI that seems to own many addresses forwards others' traffic.
        for i in 0..20 {
            learned.learn("eni-fw", &s(v4(10, 0, 0, i), inet), vpc);
        }
        assert_eq!(
            orient(&s(v4(10, 0, 0, 1), other), learned.of("eni-fw"), &learned),
            None
        );
    }
}
