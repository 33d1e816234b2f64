//! The join: adds the enrichment columns to whole Arrow batches.
//!
//! Own side, from `interface_id`: `task_arn`, `service`, `cluster`, `eni_kind`. The ENI
//! is looked up once per distinct value of the batch's `interface_id` dictionary (and
//! per record only for an ENI whose map rows name several owners over time). Records
//! whose ENI the map does not know but that carry the v7 ECS fields are attributed from
//! those fields; where both exist and disagree, the map wins and the disagreement is
//! counted.
//!
//! Orientation (see [`super::orient`]): `own_addr`, `peer_addr`, `inbound` and
//! `direction_by`. Peer side, as of the record's `start`: `peer_eni_id`, `peer_kind`,
//! `peer_task_arn`, `peer_service`, `peer_lb`. An address the map does not hold at that time is
//! `vpc` inside the VPC CIDRs and `internet` outside.
//!
//! Output string columns are dictionaries whose values are one array shared by every
//! batch (built once with the map), so the join allocates nothing per record; strings
//! from the ECS fields are added per batch only when records need them.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanBuilder, DictionaryArray, FixedSizeBinaryArray, FixedSizeBinaryBuilder,
    Int32Array, Int32Builder, StringArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;

use super::orient::{by_other_eni, orient, DirectionBy, Learned, Logged, Sides};
use super::{EniMap, EniRef, PeerKind};
use crate::columns::{addr, col, TextCol, Times};
use crate::net::Cidr;

/// The flow-log columns the join reads (for projection pushdown).
pub const INPUT_COLUMNS: [&str; 11] = [
    "interface_id",
    "srcaddr",
    "dstaddr",
    "pkt_srcaddr",
    "pkt_dstaddr",
    "flow_direction",
    "start",
    "end",
    "ecs_task_arn",
    "ecs_service_name",
    "ecs_cluster_name",
];

/// The columns the join adds, in order.
pub use crate::input::ENRICHMENT_COLUMNS;

/// Counts of what the join did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct EnrichStats {
    pub records: u64,
    /// Records whose own ENI is in the map.
    pub own_from_map: u64,
    /// Records attributed from their v7 ECS fields (ENI not in the map).
    pub own_from_ecs_fields: u64,
    /// Records whose ECS fields name another task than the map does (the map wins).
    pub ecs_disagreements: u64,
    /// Records on an ENI the map knows, at a time outside every window of it (still
    /// attributed to it: ENI ids are never reused).
    pub own_outside_window: u64,
    /// Records with an `interface_id` that neither the map nor the ECS fields know.
    pub own_unknown: u64,
    /// Records on task ENIs whose task no source names.
    pub own_unnamed_task: u64,
    /// Records whose peer address the map attributes to an ENI at that time.
    pub peer_from_map: u64,
    /// Records oriented by each kind of evidence, in the order of [`DirectionBy::ALL`].
    pub direction_by: [u64; 3],
    /// Records with both addresses whose direction could not be decided.
    pub undecided: u64,
}

impl EnrichStats {
    /// Records whose direction was inferred from the addresses.
    pub fn inferred(&self) -> u64 {
        self.direction_by[2]
    }
}

impl std::ops::AddAssign for EnrichStats {
    fn add_assign(&mut self, o: Self) {
        self.records += o.records;
        self.own_from_map += o.own_from_map;
        self.own_from_ecs_fields += o.own_from_ecs_fields;
        self.ecs_disagreements += o.ecs_disagreements;
        self.own_outside_window += o.own_outside_window;
        self.own_unknown += o.own_unknown;
        self.own_unnamed_task += o.own_unnamed_task;
        self.peer_from_map += o.peer_from_map;
        for (a, b) in self.direction_by.iter_mut().zip(o.direction_by) {
            *a += b;
        }
        self.undecided += o.undecided;
    }
}

/// Adds the enrichment columns to batches, using one map and the VPC CIDRs.
pub struct Enricher {
    map: Arc<EniMap>,
    /// Enrich only batches that carry the v7 ECS fields (`cat` without a map).
    ecs_only: bool,
    vpc: Vec<Cidr>,
    kind_keys: [i32; 16],
    by_keys: [i32; 3],
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

/// What a batch's `interface_id` value resolves to.
struct Iface<'m, 'b> {
    name: &'b str,
    eni: Option<EniRef<'m>>,
    mapped: &'m [[u8; 16]],
}

impl Iface<'_, '_> {
    /// Whether `a` is one of the ENI's own addresses in the map.
    #[inline]
    fn maps(&self, a: Option<[u8; 16]>) -> bool {
        a.is_some_and(|a| self.mapped.contains(&a))
    }
}

/// The columns of a batch the join reads, and what its `interface_id` values resolve
/// to (`None`: a column the batch lacks).
struct Cols<'m, 'b> {
    iface: Option<(&'b Int32Array, Vec<Iface<'m, 'b>>)>,
    ecs_task: Option<TextCol<'b>>,
    ecs_service: Option<TextCol<'b>>,
    ecs_cluster: Option<TextCol<'b>>,
    src: Option<&'b FixedSizeBinaryArray>,
    dst: Option<&'b FixedSizeBinaryArray>,
    pkt_src: Option<&'b FixedSizeBinaryArray>,
    pkt_dst: Option<&'b FixedSizeBinaryArray>,
    direction: Option<TextCol<'b>>,
    times: Times<'b>,
}

impl<'m, 'b> Cols<'m, 'b> {
    /// The record's interface, resolved.
    #[inline]
    fn iface(&self, row: usize) -> Option<&Iface<'m, 'b>> {
        self.iface
            .as_ref()
            .and_then(|(keys, enis)| keys.is_valid(row).then(|| &enis[keys.value(row) as usize]))
    }

    /// The record's logged `flow-direction`.
    #[inline]
    fn logged(&self, row: usize) -> Option<Logged> {
        self.direction
            .as_ref()
            .and_then(|d| d.get(row))
            .and_then(Logged::parse)
    }
}

/// The columns the join builds for a batch: the dictionary keys of task, service,
/// cluster, eni_kind; peer_eni_id, peer_kind, peer_task, peer_service, peer_lb;
/// direction_by; and the address and boolean columns.
struct Built {
    keys: Vec<Int32Builder>,
    peer_addr: FixedSizeBinaryBuilder,
    own_addr: FixedSizeBinaryBuilder,
    inbound: BooleanBuilder,
}

impl Enricher {
    /// `vpc_cidrs`: the VPC CIDRs (the private ranges when empty).
    pub fn new(map: Arc<EniMap>, vpc_cidrs: &[Cidr]) -> Enricher {
        let kind_keys = PeerKind::ALL.map(|k| map.constant_key(k.as_str()));
        let by_keys = DirectionBy::ALL.map(|b| map.constant_key(b.as_str()));
        Enricher {
            map,
            ecs_only: false,
            vpc: super::vpc_cidrs_or_private(vpc_cidrs),
            kind_keys,
            by_keys,
        }
    }

    /// An enricher that leaves batches without the v7 ECS fields as they are: for
    /// `cat` without a map, which shows the attribution the records carry themselves.
    pub fn ecs_only(mut self) -> Enricher {
        self.ecs_only = true;
        self
    }

    /// Whether [`Enricher::enrich_with`] adds columns to `batch`.
    pub fn applies_to(&self, batch: &RecordBatch) -> bool {
        !self.ecs_only || batch.schema().field_with_name("ecs_task_arn").is_ok()
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
            let t = match name {
                "peer_addr" | "own_addr" => DataType::FixedSizeBinary(16),
                "inbound" => DataType::Boolean,
                _ => dict.clone(),
            };
            fields.push(Field::new(name, t, true));
        }
        Schema::new(fields)
    }

    /// The batch with the enrichment columns appended, orienting each record with what
    /// was learned from the batch alone.
    pub fn enrich(&self, batch: &RecordBatch) -> (RecordBatch, EnrichStats) {
        self.enrich_with(batch, &mut Learned::default())
    }

    /// The batch with the enrichment columns appended; `learned` carries what
    /// orientation learned from earlier batches of the same unit of input. A batch
    /// the enricher does not apply to ([`Enricher::applies_to`]) is returned as it is.
    // Kept whole around its per-record loop (see the comment there): the hot path.
    pub fn enrich_with(
        &self,
        batch: &RecordBatch,
        learned: &mut Learned,
    ) -> (RecordBatch, EnrichStats) {
        if !self.applies_to(batch) {
            return (batch.clone(), EnrichStats::default());
        }
        let n = batch.num_rows();
        let mut stats = EnrichStats {
            records: n as u64,
            ..EnrichStats::default()
        };
        let map = &self.map;
        let cols = self.columns(batch);
        // Orientation rule 3 learns from every record of the batch first, so that a
        // record early in the batch profits from what later ones show.
        self.learn_from(&cols, n, learned);

        let iface_of = |row: usize| cols.iface(row);
        let logged = |row: usize| cols.logged(row);
        let time = |row: usize| cols.times.at(row);
        let (src, dst, pkt_src, pkt_dst) = (cols.src, cols.dst, cols.pkt_src, cols.pkt_dst);
        let (ecs_task, ecs_service, ecs_cluster) =
            (&cols.ecs_task, &cols.ecs_service, &cols.ecs_cluster);

        let mut extra = Extra {
            base: map.strings().len() as i32,
            keys: FxHashMap::default(),
            values: Vec::new(),
        };
        // task, service, cluster, eni_kind; peer_eni_id, peer_kind, peer_task, peer_service,
        // peer_lb; direction_by.
        let mut out: Vec<Int32Builder> = (0..10).map(|_| Int32Builder::with_capacity(n)).collect();
        let mut peer_addr = FixedSizeBinaryBuilder::with_capacity(n, 16);
        let mut own_addr = FixedSizeBinaryBuilder::with_capacity(n, 16);
        let mut inbound = BooleanBuilder::with_capacity(n);

        // The per-record loop, kept whole: one pass that reads each column once per
        // record and appends to every builder, with no call or allocation per record
        // that its parts as functions would add (this is the hot path of every run with
        // a map).
        for row in 0..n {
            let t = time(row);
            let i = iface_of(row);
            let own_ref = i.and_then(|i| i.eni);
            let own = own_ref.map(|e| e.at(t));
            let own_holder = own.map(|h| map.holder_by_index(h));
            if let Some(e) = own_ref {
                if !e.within(t) {
                    stats.own_outside_window += 1;
                }
            }
            // Own side: task_arn, service, cluster, eni_kind.
            let mut own_keys = [None; 4];
            let logged_task = ecs_task.as_ref().and_then(|t| t.get(row));
            // A task ENI the map knows without its task: the record's ECS fields name it.
            let unnamed =
                own_holder.is_some_and(|h| h.kind == PeerKind::Task && h.task_arn.is_none());
            if let Some(h) = own_holder {
                stats.own_from_map += 1;
                if unnamed && logged_task.is_none() {
                    stats.own_unnamed_task += 1;
                }
                own_keys = [
                    h.keys.task,
                    h.keys.service,
                    h.keys.cluster,
                    Some(h.keys.kind),
                ];
                if let (Some(mapped), Some(logged)) = (h.task_arn.as_deref(), logged_task) {
                    if mapped != logged {
                        stats.ecs_disagreements += 1;
                    }
                }
            }
            if let Some(task) = logged_task.filter(|_| own_holder.is_none() || unnamed) {
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
                    Some(self.kind_keys[PeerKind::Task as usize]),
                ];
            } else if own_holder.is_none() && i.is_some() {
                stats.own_unknown += 1;
            }
            for (b, k) in out.iter_mut().zip(own_keys) {
                b.append_option(k);
            }

            // Orientation.
            let (s, d) = (addr(src, row), addr(dst, row));
            let sides = Sides {
                src: s,
                dst: d,
                mapped: i.map_or(&[], |i| i.mapped),
                logged: logged(row),
            };
            let own_learned = match i {
                Some(i) if !i.maps(s) && !i.maps(d) => learned.of(i.name),
                _ => &[],
            };
            // Rule 4 needs two map lookups: only for records 1 to 3 cannot orient.
            let oriented = orient(&sides, own_learned, learned).or_else(|| {
                let (i, s, d, t) = (i?, s?, d?, t?);
                let elsewhere = |a| map.holder_at(&a, t).is_some_and(|h| h.eni_id != i.name);
                by_other_eni(elsewhere(s), elsewhere(d))
            });
            let peer = match oriented {
                Some(o) => {
                    stats.direction_by[o.by as usize] += 1;
                    match if o.outbound { s } else { d } {
                        Some(a) => own_addr.append_value(a).expect("16 bytes"),
                        None => own_addr.append_null(),
                    }
                    inbound.append_value(!o.outbound);
                    out[9].append_value(self.by_keys[o.by as usize]);
                    if o.outbound {
                        addr(pkt_dst, row).or(d)
                    } else {
                        addr(pkt_src, row).or(s)
                    }
                }
                None => {
                    if s.is_some() && d.is_some() {
                        stats.undecided += 1;
                    }
                    own_addr.append_null();
                    inbound.append_null();
                    out[9].append_null();
                    None
                }
            };

            // Peer side.
            let mut peer_keys = [None; 5];
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
                                h.keys.lb,
                            ];
                        }
                        None => {
                            let kind = if self.in_vpc(&p) {
                                PeerKind::Vpc
                            } else {
                                PeerKind::Internet
                            };
                            peer_keys[1] = Some(self.kind_keys[kind as usize]);
                        }
                    }
                }
                None => peer_addr.append_null(),
            }
            for (b, k) in out[4..9].iter_mut().zip(peer_keys) {
                b.append_option(k);
            }
        }

        let out = Built {
            keys: out,
            peer_addr,
            own_addr,
            inbound,
        };
        (self.assemble(batch, &extra, out), stats)
    }

    /// The columns of `batch` the join reads.
    fn columns<'b>(&self, batch: &'b RecordBatch) -> Cols<'_, 'b> {
        Cols {
            iface: self.interfaces(batch),
            ecs_task: TextCol::of(batch, "ecs_task_arn"),
            ecs_service: TextCol::of(batch, "ecs_service_name"),
            ecs_cluster: TextCol::of(batch, "ecs_cluster_name"),
            src: col::<FixedSizeBinaryArray>(batch, "srcaddr"),
            dst: col::<FixedSizeBinaryArray>(batch, "dstaddr"),
            pkt_src: col::<FixedSizeBinaryArray>(batch, "pkt_srcaddr"),
            pkt_dst: col::<FixedSizeBinaryArray>(batch, "pkt_dstaddr"),
            direction: TextCol::of(batch, "flow_direction"),
            times: Times::of(batch),
        }
    }

    /// Orientation rule 3's learning pass over the batch's `n` records. Records the
    /// map's addresses orient need not teach anything.
    fn learn_from(&self, cols: &Cols, n: usize, learned: &mut Learned) {
        for row in 0..n {
            if let Some(i) = cols.iface(row) {
                let (s, d) = (addr(cols.src, row), addr(cols.dst, row));
                if i.maps(s) || i.maps(d) {
                    continue;
                }
                let sides = Sides {
                    src: s,
                    dst: d,
                    logged: cols.logged(row),
                    ..Sides::default()
                };
                learned.learn(i.name, &sides, |a| self.in_vpc(a));
            }
        }
    }

    /// What each distinct `interface_id` value of the batch resolves to, with the
    /// column's keys; `None` when the batch has no dictionary `interface_id`.
    fn interfaces<'b>(
        &self,
        batch: &'b RecordBatch,
    ) -> Option<(&'b Int32Array, Vec<Iface<'_, 'b>>)> {
        let d = batch
            .column_by_name("interface_id")?
            .as_any()
            .downcast_ref::<DictionaryArray<Int32Type>>()?;
        let values: &StringArray = d.values().as_any().downcast_ref()?;
        let enis = (0..values.len())
            .map(|i| {
                let name = values.value(i);
                Iface {
                    name,
                    eni: self.map.eni_ref(name),
                    mapped: self.map.eni_addrs(name),
                }
            })
            .collect();
        Some((d.keys(), enis))
    }

    /// The batch with the built columns appended, in [`ENRICHMENT_COLUMNS`]' order; the
    /// dictionaries share the map's strings, with the batch's `extra` after them.
    fn assemble(&self, batch: &RecordBatch, extra: &Extra, mut out: Built) -> RecordBatch {
        let map = &self.map;
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
        let keys = &mut out.keys;
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for b in keys[..4].iter_mut() {
            columns.push(dict(b));
        }
        columns.push(Arc::new(out.peer_addr.finish()));
        for b in keys[4..9].iter_mut() {
            columns.push(dict(b));
        }
        columns.push(Arc::new(out.own_addr.finish()));
        columns.push(Arc::new(out.inbound.finish()));
        columns.push(dict(&mut keys[9]));
        let schema = Arc::new(Self::schema(&batch.schema()));
        RecordBatch::try_new(schema, columns).expect("columns match the schema")
    }
}
