//! Where the JSON sources put what they read: one fact per task and per ENI for a whole
//! file, folded as documents come (so memory grows with the tasks and ENIs, not with
//! the events), with what was skipped counted. `Fold` hands a JSON array's elements
//! to a source's reader one at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::marker::PhantomData;

use rustc_hash::FxHashMap;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::error::MapError;
use super::{add_skips, Loaded, Skips};
use crate::enrich::merge::{EniFact, Facts, SourceKind, TaskFact};
use crate::enrich::PeerKind;

/// What one file says, folded per task and per ENI as its documents are read.
pub(crate) struct Sink<'n> {
    pub name: &'n str,
    tasks: FxHashMap<String, TaskFact>,
    enis: FxHashMap<String, EniFact>,
    facts: Facts,
    /// The first line of the document being read.
    pub(super) line: usize,
    /// The JSON path of the element a parse error happened in.
    pub(super) error_at: Option<String>,
    /// What was skipped: count and the first place.
    skipped: Skips,
    /// The kinds of source seen.
    seen: BTreeSet<SourceKind>,
}

impl<'n> Sink<'n> {
    pub fn new(name: &'n str) -> Sink<'n> {
        Sink {
            name,
            tasks: FxHashMap::default(),
            enis: FxHashMap::default(),
            facts: Facts::default(),
            line: 1,
            error_at: None,
            skipped: BTreeMap::new(),
            seen: BTreeSet::new(),
        }
    }

    pub fn task(&mut self, f: TaskFact) {
        self.seen.insert(f.source);
        match self.tasks.get_mut(&f.task_arn) {
            // Two ENIs for one task: both kept, for the merge to warn of.
            Some(t) if t.eni_id.is_some() && f.eni_id.is_some() && t.eni_id != f.eni_id => {
                self.facts.tasks.push(f)
            }
            Some(t) => t.absorb(f),
            None => {
                self.tasks.insert(f.task_arn.clone(), f);
            }
        }
    }

    pub fn eni(&mut self, f: EniFact) {
        self.seen.insert(f.source);
        let precise = |k: Option<PeerKind>| k.filter(|k| *k != PeerKind::Other);
        match self.enis.get_mut(&f.eni_id) {
            // Two kinds for one ENI: both kept, for the merge to warn of.
            Some(e)
                if precise(e.kind).is_some() && precise(f.kind).is_some() && e.kind != f.kind =>
            {
                self.facts.enis.push(f)
            }
            Some(e) => e.absorb(f),
            None => {
                self.enis.insert(f.eni_id.clone(), f);
            }
        }
    }

    pub fn task_without_eni(&mut self, arn: &str) {
        self.facts.tasks_without_eni.insert(arn.to_string());
    }

    pub fn failure(&mut self, arn: String, reason: String, at: String) {
        self.seen.insert(SourceKind::DescribeTasks);
        self.facts.failures.push((arn, reason, at));
    }

    /// Counts something skipped; `what` says what and why, for the warning.
    pub fn skip(&mut self, what: &'static str, at: impl FnOnce() -> String) {
        let e = self
            .skipped
            .entry(what)
            .or_insert_with(|| (0, String::new()));
        if e.0 == 0 {
            e.1 = at();
        }
        e.0 += 1;
    }

    /// Marks a kind of source as seen even when it held nothing to keep.
    pub fn saw(&mut self, kind: SourceKind) {
        self.seen.insert(kind);
    }

    /// Takes in what another sink of the same file read.
    pub(super) fn absorb(&mut self, o: Sink) {
        for (_, t) in o.tasks {
            self.task(t);
        }
        for (_, e) in o.enis {
            self.eni(e);
        }
        self.facts.extend(o.facts);
        add_skips(&mut self.skipped, o.skipped);
        self.seen.extend(o.seen);
    }

    /// Where a fact came from, for messages: the file, the document's line and the
    /// JSON path.
    pub fn origin(&self, path: &str) -> String {
        format!("{}:{}: {path}", self.name, self.line)
    }

    /// What the file said; an error when it held nothing of any kind of source.
    pub(super) fn finish(self) -> Result<Loaded, MapError> {
        let name = self.name;
        let mut facts = self.facts;
        facts.tasks.extend(self.tasks.into_values());
        facts.enis.extend(self.enis.into_values());
        facts.tasks.sort_by(|a, b| a.task_arn.cmp(&b.task_arn));
        facts.enis.sort_by(|a, b| a.eni_id.cmp(&b.eni_id));
        let skipped: Skips = self
            .skipped
            .into_iter()
            .map(|(what, (n, first))| (what, (n, format!("{name}: {first}"))))
            .collect();
        let mut named_nothing = Vec::new();
        if facts.is_empty() && facts.failures.is_empty() && facts.tasks_without_eni.is_empty() {
            let kinds: Vec<&str> = self.seen.iter().map(|k| k.as_str()).collect();
            if kinds.is_empty() {
                return Err(MapError::NoSource {
                    name: name.to_string(),
                    skipped: skipped
                        .iter()
                        .next()
                        .map(|(what, (n, first))| (*n, *what, first.clone())),
                });
            }
            named_nothing.push((name.to_string(), kinds.join(" and ")));
        }
        Ok(Loaded {
            facts,
            warnings: Vec::new(),
            named_nothing,
            skipped,
        })
    }
}

/// Handles one element of a list: the sink, the element, and its path for messages.
pub(crate) type Each<T, E> = fn(&mut Sink, T, &dyn Fn() -> String) -> Result<(), E>;

/// Reads a JSON array one element at a time, handing each to a function; `null` is an
/// empty list.
pub(crate) struct Fold<'s, 'n, 'p, T, E> {
    sink: &'s mut Sink<'n>,
    path: &'p str,
    each: Each<T, E>,
    _t: PhantomData<T>,
}

impl<'s, 'n, 'p, T, E> Fold<'s, 'n, 'p, T, E> {
    pub(crate) fn new(sink: &'s mut Sink<'n>, path: &'p str, each: Each<T, E>) -> Self {
        Fold {
            sink,
            path,
            each,
            _t: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>, E: Display> DeserializeSeed<'de> for Fold<'_, '_, '_, T, E> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de>, E: Display> Visitor<'de> for Fold<'_, '_, '_, T, E> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an array at {}", self.path)
    }

    fn visit_unit<Er: de::Error>(self) -> Result<(), Er> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            let x = match seq.next_element::<T>() {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(e) => {
                    // Where it failed, for the message (the error keeps its kind).
                    self.sink.error_at = Some(format!("{}[{i}]", self.path));
                    return Err(e);
                }
            };
            let path = self.path;
            (self.each)(self.sink, x, &|| format!("{path}[{i}]")).map_err(de::Error::custom)?;
            i += 1;
        }
        Ok(())
    }
}
