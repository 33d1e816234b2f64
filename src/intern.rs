//! Strings interned to `u32` ids, so that aggregation keys are `Copy` and looking a
//! string up does not allocate. Mergeable states remap ids with [`Strings::id`].

use arrow::array::{Array, DictionaryArray, Int32Array, StringArray};
use arrow::datatypes::Int32Type;
use arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;

/// The id of "no string" (null).
pub const NONE: u32 = u32::MAX;
/// The interning table.
#[derive(Default, Clone, Debug)]
pub struct Strings {
    ids: FxHashMap<String, u32>,
    pub values: Vec<String>,
}

impl Strings {
    /// About how many bytes the strings and their index take.
    pub fn bytes(&self) -> u64 {
        let heap: usize = self.values.iter().map(|v| v.capacity()).sum();
        (heap * 2 + self.values.capacity() * 24 + self.ids.capacity() * 29) as u64
    }

    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.values.len() as u32;
        self.ids.insert(s.to_string(), i);
        self.values.push(s.to_string());
        i
    }

    pub fn get(&self, id: u32) -> Option<&str> {
        (id != NONE).then(|| self.values[id as usize].as_str())
    }

    /// Ids of another table's strings in this one.
    pub fn remap(&mut self, other: &Strings) -> Vec<u32> {
        other.values.iter().map(|s| self.id(s)).collect()
    }
}

/// A dictionary column whose values are interned lazily, once per distinct value.
pub struct DictIds<'a> {
    keys: &'a Int32Array,
    values: &'a StringArray,
    /// Interned ids by dictionary key: dense for small dictionaries; a map when the
    /// values are many more than a batch's rows (the enrichment columns share one
    /// array of every string of the ENI map), so that no batch pays for the whole map.
    ids: Ids,
}

enum Ids {
    Dense(Vec<u32>),
    Sparse(FxHashMap<u32, u32>),
}

const UNSET: u32 = u32::MAX - 1;

impl<'a> DictIds<'a> {
    pub fn of(batch: &'a RecordBatch, name: &str) -> Option<DictIds<'a>> {
        let d = batch
            .column_by_name(name)?
            .as_any()
            .downcast_ref::<DictionaryArray<Int32Type>>()?;
        let values = d.values().as_any().downcast_ref::<StringArray>()?;
        let ids = if values.len() <= batch.num_rows().max(1024) {
            Ids::Dense(vec![UNSET; values.len()])
        } else {
            Ids::Sparse(FxHashMap::default())
        };
        Some(DictIds {
            keys: d.keys(),
            values,
            ids,
        })
    }

    pub fn str(&self, row: usize) -> Option<&'a str> {
        self.keys
            .is_valid(row)
            .then(|| self.values.value(self.keys.value(row) as usize))
    }

    pub fn id(&mut self, row: usize, strings: &mut Strings) -> u32 {
        if !self.keys.is_valid(row) {
            return NONE;
        }
        let k = self.keys.value(row) as usize;
        let values = self.values;
        match &mut self.ids {
            Ids::Dense(ids) => {
                if ids[k] == UNSET {
                    ids[k] = strings.id(values.value(k));
                }
                ids[k]
            }
            Ids::Sparse(ids) => *ids
                .entry(k as u32)
                .or_insert_with(|| strings.id(values.value(k))),
        }
    }
}

/// The attribution columns of an enriched batch (see `enrich::join`), each a
/// [`DictIds`]: the record's own ENI kind, task, service and cluster, and its peer's
/// ENI, kind, task and service. `None` when the batch was not attributed.
pub struct Attribution<'a> {
    pub kind: DictIds<'a>,
    pub task: DictIds<'a>,
    pub service: DictIds<'a>,
    pub cluster: DictIds<'a>,
    pub peer_eni: DictIds<'a>,
    pub peer_kind: DictIds<'a>,
    pub peer_task: DictIds<'a>,
    pub peer_service: DictIds<'a>,
}

impl<'a> Attribution<'a> {
    pub fn of(batch: &'a RecordBatch) -> Option<Attribution<'a>> {
        let ids = |name| DictIds::of(batch, name);
        Some(Attribution {
            kind: ids("eni_kind")?,
            task: ids("task_arn")?,
            service: ids("service")?,
            cluster: ids("cluster")?,
            peer_eni: ids("peer_eni_id")?,
            peer_kind: ids("peer_kind")?,
            peer_task: ids("peer_task_arn")?,
            peer_service: ids("peer_service")?,
        })
    }
}
