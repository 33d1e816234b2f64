//! Which source a JSON document is, told by its keys, and each part handed to the
//! source's reader: `tasks` and `failures` ([`super::events`], describe-tasks),
//! `NetworkInterfaces` ([`super::ec2`]), `Records` ([`super::cloudtrail`]),
//! `configurationItems` ([`super::config`]); an event (`detail-type`), a CloudTrail
//! record (`eventName`) or a task on its own (`taskArn`) by its top-level keys.
//!
//! A document may wrap others as strings: `lookup-events` output, whose
//! `CloudTrailEvent` is a record, and `filter-log-events` output, whose `message` is an
//! event. Those are unwrapped here and read as documents of their own, so that the
//! sources never read a document themselves.

use std::fmt::Display;

use rayon::prelude::*;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::cloudtrail::{self, RecordParts};
use super::error::{strip_position, MapError};
use super::events::{self, TaskJson, TASK_STATE_CHANGE};
use super::sink::{Each, Fold, Sink};
use super::{config, ec2};
use crate::enrich::merge::SourceKind;

/// Reads many documents (JSON Lines, concatenated objects), each with its first line,
/// in parallel when there are many: each worker folds its share into a sink of its
/// own, and the sinks are merged in order, so the result and the first error are those
/// of reading them one by one.
pub(super) fn documents(sink: &mut Sink, docs: &[(&str, usize)]) -> Result<(), MapError> {
    const PER_WORKER: usize = 256;
    if docs.len() < 2 * PER_WORKER {
        for (text, line) in docs {
            document(sink, text, *line)?;
        }
        return Ok(());
    }
    let name = sink.name;
    let parts: Vec<Result<Sink, MapError>> = docs
        .par_chunks(PER_WORKER)
        .map(|part| {
            let mut sink = Sink::new(name);
            for (text, line) in part {
                document(&mut sink, text, *line)?;
            }
            Ok(sink)
        })
        .collect();
    for part in parts {
        sink.absorb(part?);
    }
    Ok(())
}

/// Reads one JSON document (`line` is its first line in the file).
fn document(sink: &mut Sink, text: &str, line: usize) -> Result<(), MapError> {
    sink.line = line;
    let name = sink.name;
    let mut de = serde_json::Deserializer::from_str(text);
    let found = Top { sink, at: "$" }.deserialize(&mut de);
    let error_at = sink.error_at.take();
    let found = found.map_err(|e| match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            MapError::json(name, line, &e)
        }
        _ => MapError::Document {
            name: name.to_string(),
            line: line + e.line().saturating_sub(1),
            path: error_at,
            what: strip_position(&e.to_string()),
        },
    })?;
    let at = format!("{name}:{line}");
    match found {
        Found::Known => Ok(()),
        Found::Unknown(keys) => Err(MapError::NotASource { at, keys }),
        Found::Scalar => Err(MapError::NotAnObject(at)),
    }
}

/// A document held as a string inside another that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{at}: {error}")]
pub(crate) struct NestedError {
    at: String,
    error: serde_json::Error,
}

/// Reads a document held as a string inside another (`message`, `CloudTrailEvent`);
/// `at` is its path.
fn nested(sink: &mut Sink, text: &str, at: &str) -> Result<(), NestedError> {
    let mut de = serde_json::Deserializer::from_str(text);
    match (Top { sink, at }).deserialize(&mut de) {
        Ok(Found::Known) => Ok(()),
        Ok(_) => {
            sink.skip("embedded documents that are no map source skipped", || {
                at.to_string()
            });
            Ok(())
        }
        Err(error) => Err(NestedError {
            at: at.to_string(),
            error,
        }),
    }
}

/// One event of `lookup-events` output.
#[derive(Deserialize, Default)]
#[serde(default)]
struct LookupEvent {
    #[serde(rename = "CloudTrailEvent")]
    cloud_trail_event: Option<String>,
}

/// One event of `lookup-events` output: its `CloudTrailEvent` is a record.
fn lookup_event(
    sink: &mut Sink,
    e: LookupEvent,
    at: &dyn Fn() -> String,
) -> Result<(), NestedError> {
    match e.cloud_trail_event {
        Some(text) => nested(sink, &text, &format!("{}.CloudTrailEvent", at())),
        None => Ok(()),
    }
}

/// One event of `filter-log-events` (or `get-log-events`) output.
#[derive(Deserialize, Default)]
#[serde(default)]
struct LogEvent {
    message: Option<String>,
}

/// One event of a CloudWatch Logs export: its `message` is a document of its own.
fn log_event(sink: &mut Sink, e: LogEvent, at: &dyn Fn() -> String) -> Result<(), NestedError> {
    let Some(message) = e.message else {
        return Ok(());
    };
    let trimmed = message.trim_start();
    if !trimmed.starts_with('{') {
        sink.skip("log events whose message is no JSON object skipped", at);
        return Ok(());
    }
    nested(sink, &message, &format!("{}.message", at()))
}

/// What a document turned out to be.
enum Found {
    Known,
    Unknown(Vec<String>),
    Scalar,
}

/// The top of a document: an object whose keys say what it is, or an array of such.
struct Top<'s, 'n, 'a> {
    sink: &'s mut Sink<'n>,
    at: &'a str,
}

/// The keys of a top-level object that tell its kind.
enum Key {
    Tasks,
    Failures,
    NetworkInterfaces,
    NetworkInterface,
    Records,
    LookupEvents,
    LogEvents,
    ConfigurationItems,
    DetailType,
    Detail,
    EventName,
    EventTime,
    ErrorCode,
    RequestParameters,
    ResponseElements,
    // A task on its own: an event's `detail`, a task of describe-tasks.
    TaskArn,
    ClusterArn,
    Group,
    TaskDefinitionArn,
    CreatedAt,
    StartedAt,
    StoppedAt,
    Attachments,
    Containers,
    Other(String),
}

impl Key {
    /// Whether the key alone tells the document's kind (a list of one source's items).
    fn names_a_source(&self) -> bool {
        matches!(
            self,
            Key::Tasks
                | Key::Failures
                | Key::NetworkInterfaces
                | Key::NetworkInterface
                | Key::Records
                | Key::LookupEvents
                | Key::LogEvents
                | Key::ConfigurationItems
        )
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "tasks" => Key::Tasks,
                    "failures" => Key::Failures,
                    "NetworkInterfaces" => Key::NetworkInterfaces,
                    "NetworkInterface" => Key::NetworkInterface,
                    "Records" => Key::Records,
                    "Events" => Key::LookupEvents,
                    "events" => Key::LogEvents,
                    "configurationItems" => Key::ConfigurationItems,
                    "detail-type" => Key::DetailType,
                    "detail" => Key::Detail,
                    "eventName" => Key::EventName,
                    "eventTime" => Key::EventTime,
                    "errorCode" => Key::ErrorCode,
                    "requestParameters" => Key::RequestParameters,
                    "responseElements" => Key::ResponseElements,
                    "taskArn" => Key::TaskArn,
                    "clusterArn" => Key::ClusterArn,
                    "group" => Key::Group,
                    "taskDefinitionArn" => Key::TaskDefinitionArn,
                    "createdAt" => Key::CreatedAt,
                    "startedAt" => Key::StartedAt,
                    "stoppedAt" => Key::StoppedAt,
                    "attachments" => Key::Attachments,
                    "containers" => Key::Containers,
                    other => Key::Other(other.to_string()),
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// What a document on its own says in its top-level keys (an EventBridge event, a
/// CloudTrail record, a bare task), kept until its last key, when its kind is known.
#[derive(Default)]
struct OnItsOwn<'de> {
    detail_type: Option<String>,
    detail: Option<&'de RawValue>,
    /// Whether a task state change's `detail` was read as it came.
    read_detail: bool,
    record: RecordParts<'de>,
    task: TaskJson,
    /// The first few keys of no known meaning, for the message if the document is of
    /// no kind.
    other: Vec<String>,
}

impl OnItsOwn<'_> {
    /// Reads what the keys made out; `known`: whether a key already told the kind.
    fn finish<E: de::Error>(self, sink: &mut Sink, at: &str, known: bool) -> Result<Found, E> {
        let known = if let (Some(dt), false) = (&self.detail_type, self.read_detail) {
            events::event(sink, dt, self.detail, at).map_err(E::custom)?;
            true
        } else if self.record.event_name.is_some() {
            sink.saw(SourceKind::CloudTrail);
            cloudtrail::record_parts(sink, self.record, at).map_err(E::custom)?;
            true
        } else if !known && self.task.task_arn.is_some() {
            events::bare_task(sink, self.task, at).map_err(E::custom)?;
            true
        } else {
            known
        };
        Ok(if known {
            Found::Known
        } else {
            Found::Unknown(self.other)
        })
    }
}

/// Reads the value of a key that lists one source's items, each handed to `each`.
fn list<'de, A, T, E>(
    map: &mut A,
    sink: &mut Sink,
    path: &str,
    each: Each<T, E>,
) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
    E: Display,
{
    map.next_value_seed(Fold::new(sink, path, each))
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_, '_> {
    type Value = Found;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Found, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_, '_> {
    type Value = Found;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Found, A::Error> {
        let mut i = 0usize;
        let mut unknown = None;
        loop {
            let at = format!("{}[{i}]", self.at);
            let Some(found) = seq.next_element_seed(Top {
                sink: &mut *self.sink,
                at: &at,
            })?
            else {
                break;
            };
            match found {
                Found::Known => {}
                other => {
                    unknown.get_or_insert(other);
                }
            }
            i += 1;
        }
        // An empty array says nothing, as a page of output with no items.
        Ok(match unknown {
            Some(u) if i > 0 => u,
            _ => Found::Known,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let (sink, at) = (self.sink, self.at);
        let mut known = false;
        let mut own = OnItsOwn::default();
        let path = |k: &str| format!("{at}.{k}");
        while let Some(key) = map.next_key::<Key>()? {
            known |= key.names_a_source();
            match key {
                Key::Tasks => {
                    sink.saw(SourceKind::DescribeTasks);
                    list(&mut map, sink, &path("tasks"), events::describe_task)?;
                }
                Key::Failures => list(&mut map, sink, &path("failures"), events::failure)?,
                Key::NetworkInterfaces => {
                    sink.saw(SourceKind::DescribeEnis);
                    let p = path("NetworkInterfaces");
                    list(&mut map, sink, &p, ec2::network_interface)?;
                }
                Key::NetworkInterface => {
                    // `aws ec2 create-network-interface` output: one ENI.
                    sink.saw(SourceKind::DescribeEnis);
                    let ni = map.next_value()?;
                    let p = path("NetworkInterface");
                    ec2::network_interface(sink, ni, &|| p.clone()).map_err(de::Error::custom)?;
                }
                Key::Records => {
                    sink.saw(SourceKind::CloudTrail);
                    list(&mut map, sink, &path("Records"), cloudtrail::record)?;
                }
                Key::LookupEvents => {
                    sink.saw(SourceKind::CloudTrail);
                    list(&mut map, sink, &path("Events"), lookup_event)?;
                }
                Key::LogEvents => list(&mut map, sink, &path("events"), log_event)?,
                Key::ConfigurationItems => {
                    sink.saw(SourceKind::Config);
                    let p = path("configurationItems");
                    list(&mut map, sink, &p, config::item)?;
                }
                Key::DetailType => own.detail_type = map.next_value()?,
                // EventBridge writes `detail-type` before `detail`: a task's event is
                // read as it comes, else its detail is kept for when the type is known.
                Key::Detail if own.detail_type.as_deref() == Some(TASK_STATE_CHANGE) => {
                    let t = map.next_value()?;
                    known = true;
                    events::task_event(sink, t, &path("detail")).map_err(de::Error::custom)?;
                    own.read_detail = true;
                }
                Key::Detail => own.detail = Some(map.next_value()?),
                Key::EventName => own.record.event_name = map.next_value()?,
                Key::EventTime => own.record.event_time = map.next_value()?,
                Key::ErrorCode => own.record.error_code = map.next_value()?,
                Key::RequestParameters => own.record.request = map.next_value()?,
                Key::ResponseElements => own.record.response = map.next_value()?,
                Key::TaskArn => own.task.task_arn = map.next_value()?,
                Key::ClusterArn => own.task.cluster_arn = map.next_value()?,
                Key::Group => own.task.group = map.next_value()?,
                Key::TaskDefinitionArn => own.task.task_definition_arn = map.next_value()?,
                Key::CreatedAt => own.task.created_at = map.next_value()?,
                Key::StartedAt => own.task.started_at = map.next_value()?,
                Key::StoppedAt => own.task.stopped_at = map.next_value()?,
                Key::Attachments => own.task.attachments = map.next_value()?,
                Key::Containers => own.task.containers = map.next_value()?,
                Key::Other(k) => {
                    if own.other.len() < 8 {
                        own.other.push(k);
                    }
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        own.finish(sink, at, known)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Found, E> {
        Ok(Found::Scalar)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Found, E> {
        Ok(Found::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Found, E> {
        Ok(Found::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Found, E> {
        Ok(Found::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Found, E> {
        Ok(Found::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Found, E> {
        Ok(Found::Scalar)
    }
}
