//! The join: adds the enrichment columns to whole Arrow batches.
//!
//! Own side, from `interface_id`: `task_arn`, `service`, `cluster`, `eni_kind`. The ENI
//! is looked up once per distinct value of the batch's `interface_id` dictionary, not
//! per row. Records whose ENI the map does not know but that carry the v7 ECS fields
//! are attributed from those fields; where both exist and disagree, the map wins and
//! the disagreement is counted.
//!
//! Peer side, as of the record's `start`: `peer_addr`, `peer_eni_id`, `peer_kind`,
//! `peer_task_arn`, `peer_service`. The peer is the side of the record that is not the
//! ENI's own address; where `pkt-srcaddr`/`pkt-dstaddr` are present they are used for
//! that side, so a NAT gateway's records show the real hosts behind it. When the ENI's
//! own addresses are unknown, `flow-direction` decides (ingress: the source is the
//! peer); failing that, a side that the map attributes to another ENI, then the
//! destination. An address the map does not hold at that time is `vpc` inside the VPC
//! CIDRs and `internet` outside.
//!
//! Output string columns are dictionaries whose values are one array shared by every
//! batch (built once with the map), so the join allocates nothing per record; strings
//! from the ECS fields are added per batch only when records need them.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, DictionaryArray, FixedSizeBinaryArray, FixedSizeBinaryBuilder, Int32Array,
    Int32Builder, Int64Array, StringArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;

use super::{EniKind, EniMap, PEER_INTERNET, PEER_VPC};
use crate::columns::{addr, col, TextCol};
use crate::net::Cidr;

/// The columns the join adds, in order.
pub const ENRICHMENT_COLUMNS: [&str; 9] = [
    "task_arn",
    "service",
    "cluster",
    "eni_kind",
    "peer_addr",
    "peer_eni_id",
    "peer_kind",
    "peer_task_arn",
    "peer_service",
];

/// Counts of what the join did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnrichStats {
    pub records: u64,
    /// Records whose own ENI is in the map.
    pub own_from_map: u64,
    /// Records attributed from their v7 ECS fields (ENI not in the map).
    pub own_from_ecs_fields: u64,
    /// Records whose ECS fields name another task than the map does (the map wins).
    pub ecs_disagreements: u64,
    /// Records whose peer address the map attributes to an ENI at that time.
    pub peer_from_map: u64,
}

impl std::ops::AddAssign for EnrichStats {
    fn add_assign(&mut self, o: Self) {
        self.records += o.records;
        self.own_from_map += o.own_from_map;
        self.own_from_ecs_fields += o.own_from_ecs_fields;
        self.ecs_disagreements += o.ecs_disagreements;
        self.peer_from_map += o.peer_from_map;
    }
}

/// Adds the enrichment columns to batches, using one map and the VPC CIDRs.
pub struct Enricher {
    map: Arc<EniMap>,
    vpc: Vec<Cidr>,
    kind_keys: [i32; 7],
    vpc_key: i32,
    internet_key: i32,
}

/// Interns per-batch strings (from ECS fields) after the map's shared strings.
struct Extra<'a> {
    base: i32,
    keys: FxHashMap<&'a str, i32>,
    values: Vec<&'a str>,
}

impl<'a> Extra<'a> {
    fn key(&mut self, s: &'a str) -> i32 {
        let next = self.base + self.values.len() as i32;
        *self.keys.entry(s).or_insert_with(|| {
            self.values.push(s);
            next
        })
    }
}

impl Enricher {
    /// `vpc_cidrs`: the VPC CIDRs (the private ranges when empty).
    pub fn new(map: Arc<EniMap>, vpc_cidrs: &[Cidr]) -> Enricher {
        let kind_keys = EniKind::ALL.map(|k| map.constant_key(k.as_str()));
        let vpc_key = map.constant_key(PEER_VPC);
        let internet_key = map.constant_key(PEER_INTERNET);
        Enricher {
            map,
            vpc: super::vpc_cidrs_or_private(vpc_cidrs),
            kind_keys,
            vpc_key,
            internet_key,
        }
    }

    pub fn map(&self) -> &EniMap {
        &self.map
    }

    /// Whether an address lies in the VPC CIDRs.
    pub fn in_vpc(&self, addr: &[u8; 16]) -> bool {
        self.vpc.iter().any(|c| c.contains(addr))
    }

    /// The schema of an enriched batch.
    pub fn schema(input: &Schema) -> Schema {
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        for name in ENRICHMENT_COLUMNS {
            let t = if name == "peer_addr" {
                DataType::FixedSizeBinary(16)
            } else {
                dict.clone()
            };
            fields.push(Field::new(name, t, true));
        }
        Schema::new(fields)
    }

    /// The batch with the enrichment columns appended.
    pub fn enrich(&self, batch: &RecordBatch) -> (RecordBatch, EnrichStats) {
        let n = batch.num_rows();
        let mut stats = EnrichStats {
            records: n as u64,
            ..EnrichStats::default()
        };
        let map = &self.map;
        // Own ENI per distinct interface_id value.
        let iface: Option<(&Int32Array, Vec<Option<u32>>)> = batch
            .column_by_name("interface_id")
            .and_then(|c| c.as_any().downcast_ref::<DictionaryArray<Int32Type>>())
            .and_then(|d| {
                let values: &StringArray = d.values().as_any().downcast_ref()?;
                let holders = (0..values.len())
                    .map(|i| map.eni_index(values.value(i)))
                    .collect();
                Some((d.keys(), holders))
            });
        let ecs_task = TextCol::of(batch, "ecs_task_arn");
        let ecs_service = TextCol::of(batch, "ecs_service_name");
        let ecs_cluster = TextCol::of(batch, "ecs_cluster_name");
        let src = col::<FixedSizeBinaryArray>(batch, "srcaddr");
        let dst = col::<FixedSizeBinaryArray>(batch, "dstaddr");
        let pkt_src = col::<FixedSizeBinaryArray>(batch, "pkt_srcaddr");
        let pkt_dst = col::<FixedSizeBinaryArray>(batch, "pkt_dstaddr");
        let direction = TextCol::of(batch, "flow_direction");
        let start = col::<Int64Array>(batch, "start");
        let end = col::<Int64Array>(batch, "end");

        let mut extra = Extra {
            base: map.strings().len() as i32,
            keys: FxHashMap::default(),
            values: Vec::new(),
        };
        let mut out: Vec<Int32Builder> = (0..8).map(|_| Int32Builder::with_capacity(n)).collect();
        let mut peer_addr = FixedSizeBinaryBuilder::with_capacity(n, 16);

        for row in 0..n {
            let own = iface.as_ref().and_then(|(keys, holders)| {
                keys.is_valid(row)
                    .then(|| holders[keys.value(row) as usize])
                    .flatten()
            });
            let own_holder = own.map(|h| map.holder_by_index(h));
            // Own side: task_arn, service, cluster, eni_kind.
            let mut own_keys = [None; 4];
            if let Some(h) = own_holder {
                stats.own_from_map += 1;
                own_keys = [
                    h.keys.task,
                    h.keys.service,
                    h.keys.cluster,
                    Some(h.keys.kind),
                ];
                if let (Some(mapped), Some(logged)) = (
                    h.task_arn.as_deref(),
                    ecs_task.as_ref().and_then(|t| t.get(row)),
                ) {
                    if mapped != logged {
                        stats.ecs_disagreements += 1;
                    }
                }
            } else if let Some(task) = ecs_task.as_ref().and_then(|t| t.get(row)) {
                stats.own_from_ecs_fields += 1;
                own_keys = [
                    Some(extra.key(task)),
                    ecs_service
                        .as_ref()
                        .and_then(|t| t.get(row))
                        .map(|s| extra.key(s)),
                    ecs_cluster
                        .as_ref()
                        .and_then(|t| t.get(row))
                        .map(|s| extra.key(s)),
                    Some(self.kind_keys[0]),
                ];
            }
            for (b, k) in out.iter_mut().zip(own_keys) {
                b.append_option(k);
            }

            // Peer side.
            let (s, d) = (addr(src, row), addr(dst, row));
            let (ps, pd) = (addr(pkt_src, row).or(s), addr(pkt_dst, row).or(d));
            let t = start
                .filter(|a| a.is_valid(row))
                .or(end.filter(|a| a.is_valid(row)))
                .map(|a| a.value(row));
            let own_addrs = own_holder.map(|h| h.addrs.as_slice()).unwrap_or(&[]);
            let peer = match (s, d) {
                (Some(s), _) if own_addrs.contains(&s) => pd,
                (_, Some(d)) if own_addrs.contains(&d) => ps,
                (None, None) => None,
                _ => match direction.as_ref().and_then(|x| x.get(row)) {
                    Some("ingress") => ps,
                    Some("egress") => pd,
                    _ => {
                        let other = |a: Option<[u8; 16]>| {
                            a.zip(t)
                                .and_then(|(a, t)| map.holder_index_at(&a, t))
                                .is_some_and(|h| Some(h) != own)
                        };
                        if other(ps) && !other(pd) {
                            ps
                        } else {
                            pd
                        }
                    }
                },
            };
            let mut peer_keys = [None; 4];
            match peer {
                Some(p) => {
                    peer_addr.append_value(p).expect("16 bytes");
                    match t.and_then(|t| map.holder_index_at(&p, t)) {
                        Some(h) => {
                            stats.peer_from_map += 1;
                            let h = map.holder_by_index(h);
                            peer_keys = [
                                Some(h.keys.eni),
                                Some(h.keys.kind),
                                h.keys.task,
                                h.keys.service,
                            ];
                        }
                        None => {
                            peer_keys[1] = Some(if self.in_vpc(&p) {
                                self.vpc_key
                            } else {
                                self.internet_key
                            });
                        }
                    }
                }
                None => peer_addr.append_null(),
            }
            for (b, k) in out[4..].iter_mut().zip(peer_keys) {
                b.append_option(k);
            }
        }

        let values: ArrayRef = if extra.values.is_empty() {
            map.strings().clone()
        } else {
            let all = (0..map.strings().len())
                .map(|i| map.strings().value(i))
                .chain(extra.values.iter().copied());
            Arc::new(StringArray::from_iter_values(all))
        };
        let dict = |b: &mut Int32Builder| -> ArrayRef {
            Arc::new(
                DictionaryArray::<Int32Type>::try_new(b.finish(), values.clone())
                    .expect("keys index the shared strings"),
            )
        };
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for b in out[..4].iter_mut() {
            columns.push(dict(b));
        }
        columns.push(Arc::new(peer_addr.finish()));
        for b in out[4..].iter_mut() {
            columns.push(dict(b));
        }
        let schema = Arc::new(Self::schema(&batch.schema()));
        let batch = RecordBatch::try_new(schema, columns).expect("columns match the schema");
        (batch, stats)
    }
}
