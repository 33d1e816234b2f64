//! Amazon Security Lake's OCSF (Network Activity, class 4001) mapped back to flow-log
//! records, as AWS's published mapping says (ocsf/examples,
//! `mappings/markdown/AWS/v1.1.0/VPC Flowlogs`; 1.0.0-rc.2 and 1.5.0 likewise):
//!
//! - `src_endpoint.ip` is `pkt-srcaddr`, and `src_endpoint.intermediate_ips[0]` is
//!   `srcaddr` where present (else both are `ip`); likewise `dst_endpoint`;
//! - the interface ids (`interface_uid`, `vpc_uid`, `subnet_uid`, `instance_uid`) sit on
//!   `dst_endpoint` for ingress and on `src_endpoint` for egress (without a direction,
//!   on whichever endpoint has an `interface_uid`, the source first);
//! - `start_time` (else `time`) and `end_time` are epoch milliseconds; without them the
//!   texts `start_time_dt` and `end_time_dt` (AWS's own 1.1 and 1.5 mappings write the
//!   end only as text);
//! - `connection_info.boundary_id` 4..11 is `traffic-path` 1..8 (0 and 99 are null);
//!   `direction_id` 1 is ingress, 2 egress, 0 null;
//! - `cloud.account.uid` (1.1, 1.5) or `cloud.account_uid` (1.0.0-rc.2);
//! - the action from `action_id` 1/2, else `disposition_id` 1/2, else `activity_id` 6/5
//!   (ACCEPT/REJECT);
//! - `metadata.product.version` is `version`, `connection_info.protocol_num`
//!   `protocol`, `protocol_ver` `type`, `tcp_flags`, the ports, `traffic.packets` and
//!   `bytes`, `svc_name` the `pkt-*-aws-service`, `cloud.region` and `zone` (`az-id`),
//!   `status_code` `log-status`;
//! - each key of `unmapped` becomes a column of its name (`sublocation_id`,
//!   `reject_reason`, the ECS fields), typed as a header of those names would type it.
//!
//! A record becomes one line of flow-log text in the layout [`BASE`] and the unmapped
//! keys met so far, which the text decoder reads: the batches, the checks (ports,
//! addresses, times) and the messages of rejected records are the text's, and record
//! `n` of a file is line `n`. A record that is not Network Activity, or whose values
//! cannot be flow-log fields (a direction that is neither, a text with a space), is
//! rejected with its position and what is wrong. The text `-` and the empty text are
//! null, as `-` is in flow-log text.
//!
//! The forms: [`json`] (JSON Lines, as CloudWatch Logs' `parseToOCSF` writes them) here,
//! and Parquet with nested columns (Security Lake's files) in `input/parquet/ocsf.rs`,
//! which the Parquet form hands a file to when its footer says it is OCSF.

use std::sync::Arc;

use super::{Out, ScanOptions};
use crate::error::RejectKind;
use crate::format::Layout;
use crate::parse::{Decoder, DecoderOptions, LineCounts, Reject};

pub mod json;

/// An OCSF attribute the mapping reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    ClassUid,
    ProductVersion,
    AccountUid,
    AccountUidRc2,
    Region,
    Zone,
    SrcIp,
    SrcIntermediate,
    SrcPort,
    SrcSvc,
    SrcInterface,
    SrcVpc,
    SrcSubnet,
    SrcInstance,
    DstIp,
    DstIntermediate,
    DstPort,
    DstSvc,
    DstInterface,
    DstVpc,
    DstSubnet,
    DstInstance,
    ProtocolNum,
    ProtocolVer,
    TcpFlags,
    BoundaryId,
    DirectionId,
    Packets,
    Bytes,
    Time,
    StartTime,
    EndTime,
    StartTimeDt,
    EndTimeDt,
    StatusCode,
    ActionId,
    DispositionId,
    ActivityId,
}

impl Attr {
    /// Every attribute read, in the order of [`Attr`].
    pub const ALL: [Attr; 38] = [
        Attr::ClassUid,
        Attr::ProductVersion,
        Attr::AccountUid,
        Attr::AccountUidRc2,
        Attr::Region,
        Attr::Zone,
        Attr::SrcIp,
        Attr::SrcIntermediate,
        Attr::SrcPort,
        Attr::SrcSvc,
        Attr::SrcInterface,
        Attr::SrcVpc,
        Attr::SrcSubnet,
        Attr::SrcInstance,
        Attr::DstIp,
        Attr::DstIntermediate,
        Attr::DstPort,
        Attr::DstSvc,
        Attr::DstInterface,
        Attr::DstVpc,
        Attr::DstSubnet,
        Attr::DstInstance,
        Attr::ProtocolNum,
        Attr::ProtocolVer,
        Attr::TcpFlags,
        Attr::BoundaryId,
        Attr::DirectionId,
        Attr::Packets,
        Attr::Bytes,
        Attr::Time,
        Attr::StartTime,
        Attr::EndTime,
        Attr::StartTimeDt,
        Attr::EndTimeDt,
        Attr::StatusCode,
        Attr::ActionId,
        Attr::DispositionId,
        Attr::ActivityId,
    ];

    /// Where the attribute is in a record. `intermediate_ips` is a list: its first
    /// element is read.
    pub fn path(self) -> &'static [&'static str] {
        match self {
            Attr::ClassUid => &["class_uid"],
            Attr::ProductVersion => &["metadata", "product", "version"],
            Attr::AccountUid => &["cloud", "account", "uid"],
            Attr::AccountUidRc2 => &["cloud", "account_uid"],
            Attr::Region => &["cloud", "region"],
            Attr::Zone => &["cloud", "zone"],
            Attr::SrcIp => &["src_endpoint", "ip"],
            Attr::SrcIntermediate => &["src_endpoint", "intermediate_ips"],
            Attr::SrcPort => &["src_endpoint", "port"],
            Attr::SrcSvc => &["src_endpoint", "svc_name"],
            Attr::SrcInterface => &["src_endpoint", "interface_uid"],
            Attr::SrcVpc => &["src_endpoint", "vpc_uid"],
            Attr::SrcSubnet => &["src_endpoint", "subnet_uid"],
            Attr::SrcInstance => &["src_endpoint", "instance_uid"],
            Attr::DstIp => &["dst_endpoint", "ip"],
            Attr::DstIntermediate => &["dst_endpoint", "intermediate_ips"],
            Attr::DstPort => &["dst_endpoint", "port"],
            Attr::DstSvc => &["dst_endpoint", "svc_name"],
            Attr::DstInterface => &["dst_endpoint", "interface_uid"],
            Attr::DstVpc => &["dst_endpoint", "vpc_uid"],
            Attr::DstSubnet => &["dst_endpoint", "subnet_uid"],
            Attr::DstInstance => &["dst_endpoint", "instance_uid"],
            Attr::ProtocolNum => &["connection_info", "protocol_num"],
            Attr::ProtocolVer => &["connection_info", "protocol_ver"],
            Attr::TcpFlags => &["connection_info", "tcp_flags"],
            Attr::BoundaryId => &["connection_info", "boundary_id"],
            Attr::DirectionId => &["connection_info", "direction_id"],
            Attr::Packets => &["traffic", "packets"],
            Attr::Bytes => &["traffic", "bytes"],
            Attr::Time => &["time"],
            Attr::StartTime => &["start_time"],
            Attr::EndTime => &["end_time"],
            Attr::StartTimeDt => &["start_time_dt"],
            Attr::EndTimeDt => &["end_time_dt"],
            Attr::StatusCode => &["status_code"],
            Attr::ActionId => &["action_id"],
            Attr::DispositionId => &["disposition_id"],
            Attr::ActivityId => &["activity_id"],
        }
    }

    /// The attribute's path as OCSF writes it (`src_endpoint.ip`).
    pub fn name(self) -> String {
        self.path().join(".")
    }
}

/// The top-level attributes a record's mapping reads (a Parquet reader's projection).
pub const ROOTS: [&str; 17] = [
    "class_uid",
    "metadata",
    "cloud",
    "src_endpoint",
    "dst_endpoint",
    "connection_info",
    "traffic",
    "time",
    "start_time",
    "end_time",
    "start_time_dt",
    "end_time_dt",
    "status_code",
    "action_id",
    "disposition_id",
    "activity_id",
    "unmapped",
];

/// The Network Activity class.
pub const NETWORK_ACTIVITY: i64 = 4001;

/// A value of an attribute: a number or a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val<'a> {
    Int(i64),
    Text(&'a str),
}

/// One OCSF record, as a form holds it.
pub trait Record {
    /// The value of `attr` (of a list, its first element); `None` when absent or null;
    /// `Err`: it is of a type no flow-log field can be read from (said as a problem).
    fn get(&self, attr: Attr) -> Result<Option<Val<'_>>, String>;
    /// Calls `f` with each key of `unmapped` and its value (`None`: null), in order.
    fn unmapped<'s>(&'s self, f: &mut dyn FnMut(&'s str, Option<Val<'s>>)) -> Result<(), String>;
}

/// The flow-log fields a record maps to, in this order, before its unmapped keys.
pub const BASE: [&str; 27] = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
];

/// The layout of OCSF records with these unmapped keys (their names as written).
pub fn layout(keys: &[String]) -> Layout {
    Layout::new(BASE.iter().copied().chain(keys.iter().map(String::as_str)))
        .expect("the base fields and distinct name-like keys")
}

/// Whether an unmapped key is a column of its own: a name-like key that is not one of
/// the base fields (the mapped value is the field's) nor an enrichment column.
fn own_column(key: &str) -> bool {
    let dashed = key.to_ascii_lowercase().replace('_', "-");
    crate::format::is_field_name(&key.to_ascii_lowercase())
        && !BASE.contains(&dashed.as_str())
        && !super::ENRICHMENT_COLUMNS.contains(&crate::format::column_name(&dashed).as_str())
}

/// The unmapped keys of `record` that `keys` lacks (lowercase, as a header would spell
/// them), in their order; empty (and not allocated) when there are none. A key that is
/// no column of its own is judged once and kept in `ignored`, so that later records
/// pass it by without allocating.
pub fn new_keys(
    record: &dyn Record,
    keys: &[String],
    ignored: &mut Vec<String>,
) -> Result<Vec<String>, String> {
    let mut new: Vec<String> = Vec::new();
    record.unmapped(&mut |k, _| {
        let known = |have: &String| same_name(have, k);
        if keys.iter().any(known) || new.iter().any(known) || ignored.iter().any(known) {
            return;
        }
        let lower = k.to_ascii_lowercase();
        if own_column(&lower) {
            new.push(lower);
        } else {
            ignored.push(lower);
        }
    })?;
    Ok(new)
}

/// Whether two keys name one column: alike but for case and `_` for `-`.
fn same_name(a: &str, b: &str) -> bool {
    let norm = |c: u8| match c {
        b'-' => b'_',
        c => c.to_ascii_lowercase(),
    };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| norm(x) == norm(y))
}

/// Writes `record` as a line of flow-log text in the layout of [`BASE`] and `keys`
/// (newline included) to `line`; `Err`: why it is not a flow-log record.
pub fn write_line(record: &dyn Record, keys: &[String], line: &mut Vec<u8>) -> Result<(), String> {
    let start = line.len();
    let result = fields(record, keys, line);
    if result.is_err() {
        line.truncate(start);
    }
    result
}

fn fields(r: &dyn Record, keys: &[String], line: &mut Vec<u8>) -> Result<(), String> {
    match r.get(Attr::ClassUid)? {
        Some(v) if int_of(Attr::ClassUid, v)? == NETWORK_ACTIVITY => {}
        Some(v) => {
            return Err(format!(
                "class_uid {} is not Network Activity ({NETWORK_ACTIVITY})",
                shown(v)
            ))
        }
        None => return Err("it has no class_uid".into()),
    }
    let direction = match opt_int(r, Attr::DirectionId)? {
        None | Some(0) => None,
        Some(1) => Some("ingress"),
        Some(2) => Some("egress"),
        Some(n) => {
            return Err(format!(
                "connection_info.direction_id {n} is neither 1 (inbound) nor 2 (outbound)"
            ))
        }
    };
    // The side that holds the interface's ids.
    let own_is_src = match direction {
        Some("ingress") => false,
        Some(_) => true,
        None => present(r, Attr::SrcInterface)? || !present(r, Attr::DstInterface)?,
    };
    let pick = |src: Attr, dst: Attr| if own_is_src { src } else { dst };
    let start = match opt_int(r, Attr::StartTime)?.or(opt_int(r, Attr::Time)?) {
        Some(ms) => Some(ms.div_euclid(1000)),
        None => opt_time(r, Attr::StartTimeDt)?,
    };
    let end = match opt_int(r, Attr::EndTime)? {
        Some(ms) => Some(ms.div_euclid(1000)),
        None => opt_time(r, Attr::EndTimeDt)?,
    };
    let action = [
        (Attr::ActionId, 1, 2),
        (Attr::DispositionId, 1, 2),
        (Attr::ActivityId, 6, 5),
    ]
    .into_iter()
    .map(|(attr, accept, reject)| {
        Ok(match opt_int(r, attr)? {
            Some(n) if n == accept => Some("ACCEPT"),
            Some(n) if n == reject => Some("REJECT"),
            _ => None,
        })
    })
    .find_map(|a: Result<Option<&str>, String>| a.transpose())
    .transpose()?;
    let path = match opt_int(r, Attr::BoundaryId)? {
        None | Some(0) | Some(99) => None,
        Some(n @ 4..=11) => Some(n - 3),
        Some(n) => {
            return Err(format!(
                "connection_info.boundary_id {n} is not a traffic path (4 to 11, 0 or 99)"
            ))
        }
    };
    let account = match r.get(Attr::AccountUid)? {
        Some(v) => Some(v),
        None => r.get(Attr::AccountUidRc2)?,
    };
    let src = r.get(Attr::SrcIp)?;
    let dst = r.get(Attr::DstIp)?;
    let w = &mut Writer {
        start: line.len(),
        line,
    };
    w.val(Attr::ProductVersion, r.get(Attr::ProductVersion)?)?;
    w.val(Attr::AccountUid, account)?;
    w.attr(r, pick(Attr::SrcInterface, Attr::DstInterface))?;
    w.val(Attr::SrcIntermediate, r.get(Attr::SrcIntermediate)?.or(src))?;
    w.val(Attr::DstIntermediate, r.get(Attr::DstIntermediate)?.or(dst))?;
    w.attr(r, Attr::SrcPort)?;
    w.attr(r, Attr::DstPort)?;
    w.attr(r, Attr::ProtocolNum)?;
    w.attr(r, Attr::Packets)?;
    w.attr(r, Attr::Bytes)?;
    w.int(start);
    w.int(end);
    w.text(action);
    w.attr(r, Attr::StatusCode)?;
    w.attr(r, pick(Attr::SrcVpc, Attr::DstVpc))?;
    w.attr(r, pick(Attr::SrcSubnet, Attr::DstSubnet))?;
    w.attr(r, pick(Attr::SrcInstance, Attr::DstInstance))?;
    w.attr(r, Attr::TcpFlags)?;
    w.attr(r, Attr::ProtocolVer)?;
    w.val(Attr::SrcIp, src)?;
    w.val(Attr::DstIp, dst)?;
    w.attr(r, Attr::Region)?;
    w.attr(r, Attr::Zone)?;
    w.attr(r, Attr::SrcSvc)?;
    w.attr(r, Attr::DstSvc)?;
    w.text(direction);
    w.int(path);
    if !keys.is_empty() {
        let mut values: Vec<Option<Val>> = vec![None; keys.len()];
        r.unmapped(&mut |k, v| {
            if let Some(i) = keys.iter().position(|have| same_name(have, k)) {
                values[i] = v;
            }
        })?;
        for (key, v) in keys.iter().zip(values) {
            w.unmapped(key, v)?;
        }
    }
    w.line.push(b'\n');
    Ok(())
}

/// The text of a value in messages.
fn shown(v: Val) -> String {
    match v {
        Val::Int(n) => n.to_string(),
        Val::Text(t) => format!("{:?}", crate::text::printable(t, false)),
    }
}

/// A value as a number (a text of digits is one).
fn int_of(attr: Attr, v: Val) -> Result<i64, String> {
    match v {
        Val::Int(n) => Ok(n),
        Val::Text(t) => t
            .trim()
            .parse()
            .map_err(|_| format!("{} {} is not a number", attr.name(), shown(v))),
    }
}

/// An attribute as a number; `-` and the empty text are none.
fn opt_int(r: &dyn Record, attr: Attr) -> Result<Option<i64>, String> {
    match r.get(attr)? {
        None => Ok(None),
        Some(Val::Text(t)) if is_null(t) => Ok(None),
        Some(v) => int_of(attr, v).map(Some),
    }
}

/// A time written as text (`2022-04-11T20:03:08.000-04:00`) as unix seconds.
fn opt_time(r: &dyn Record, attr: Attr) -> Result<Option<i64>, String> {
    match r.get(attr)? {
        None => Ok(None),
        Some(Val::Text(t)) if is_null(t) => Ok(None),
        Some(Val::Int(ms)) => Ok(Some(ms.div_euclid(1000))),
        Some(v @ Val::Text(t)) => crate::time::parse_time(t)
            .map(Some)
            .map_err(|_| format!("{} {} is not a time", attr.name(), shown(v))),
    }
}

/// Whether an attribute has a value that is not null.
fn present(r: &dyn Record, attr: Attr) -> Result<bool, String> {
    Ok(match r.get(attr)? {
        None => false,
        Some(Val::Text(t)) => !is_null(t),
        Some(Val::Int(_)) => true,
    })
}

/// Whether a text is a null value.
fn is_null(t: &str) -> bool {
    t.is_empty() || t == "-"
}

/// Writes the values of a line, separated by spaces.
struct Writer<'a> {
    line: &'a mut Vec<u8>,
    /// Where the line starts in `line`.
    start: usize,
}

impl Writer<'_> {
    fn sep(&mut self) {
        if self.line.len() > self.start {
            self.line.push(b' ');
        }
    }

    fn attr(&mut self, r: &dyn Record, attr: Attr) -> Result<(), String> {
        self.val(attr, r.get(attr)?)
    }

    fn val(&mut self, attr: Attr, v: Option<Val>) -> Result<(), String> {
        self.value(v)
            .map_err(|t| format!("{} {t} holds a space or a control character", attr.name()))
    }

    fn unmapped(&mut self, key: &str, v: Option<Val>) -> Result<(), String> {
        self.value(v)
            .map_err(|t| format!("unmapped.{key} {t} holds a space or a control character"))
    }

    /// Writes a value; `Err`: its text, which cannot be a field's.
    fn value(&mut self, v: Option<Val>) -> Result<(), String> {
        match v {
            None => self.text(None),
            Some(Val::Int(n)) => self.int(Some(n)),
            Some(v @ Val::Text(t)) => {
                if t.bytes().any(|b| b <= b' ' || b == 0x7f) && !is_null(t.trim()) {
                    return Err(shown(v));
                }
                self.text(Some(t).filter(|t| !is_null(t)));
            }
        }
        Ok(())
    }

    fn int(&mut self, n: Option<i64>) {
        match n {
            Some(n) => {
                self.sep();
                self.line
                    .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            }
            None => self.text(None),
        }
    }

    fn text(&mut self, t: Option<&str>) {
        self.sep();
        self.line.extend_from_slice(t.unwrap_or("-").as_bytes());
    }
}

/// OCSF records read through the text decoder: each record (or blank line) is pushed
/// and its line written; a record that is not a flow-log record is rejected here, and
/// its line handed to the decoder as a blank one (so that line numbers go on), the
/// counts set right at the end.
pub struct Lines {
    decoder: Decoder,
    options: ScanOptions,
    keys: Vec<String>,
    /// Unmapped keys that are no column of their own (see [`new_keys`]).
    ignored: Vec<String>,
    /// Lines written, not yet decoded.
    buf: Vec<u8>,
    /// Lines pushed.
    pushed: u64,
    /// Lines pushed before `buf`'s first.
    buf_first: u64,
    /// The counts of the decoders before this one.
    done: LineCounts,
    /// Records rejected here.
    rejected: u64,
    rejects: Vec<Reject>,
    /// The byte offset in its input of each line in `buf` (`None`: rows, offset 0).
    offsets: Option<Vec<u64>>,
}

/// Bytes of lines decoded at once.
const BLOCK: usize = 1 << 20;

impl Lines {
    /// `with_offsets`: lines have byte offsets of their own (JSON Lines), not rows.
    pub fn new(options: &ScanOptions, with_offsets: bool) -> Lines {
        Lines {
            decoder: decoder(options, &[], 0),
            options: options.clone(),
            keys: Vec::new(),
            ignored: Vec::new(),
            buf: Vec::new(),
            pushed: 0,
            buf_first: 0,
            done: LineCounts::default(),
            rejected: 0,
            rejects: Vec::new(),
            offsets: with_offsets.then(Vec::new),
        }
    }

    /// The next line: a record (or why it is none), or nothing (a blank line);
    /// `offset`: its byte offset in its input.
    pub fn push(
        &mut self,
        record: Option<Result<&dyn Record, String>>,
        offset: u64,
        out: &mut Out,
    ) -> Result<(), crate::Error> {
        let problem = match record {
            None => {
                self.buf.push(b'\n');
                None
            }
            Some(Err(problem)) => Some(problem),
            Some(Ok(record)) => self.write(record, out)?.err(),
        };
        if let Some(problem) = problem {
            self.rejected += 1;
            self.rejects.push(Reject {
                line: self.pushed + 1,
                byte_offset: offset,
                kind: RejectKind::Ocsf(problem),
            });
            self.buf.push(b'\n');
        }
        self.pushed += 1;
        if let Some(o) = self.offsets.as_mut() {
            o.push(offset);
        }
        if self.buf.len() >= BLOCK {
            self.drain(out)?;
        }
        Ok(())
    }

    /// Writes a record's line, in a wider layout when it brings unmapped keys not seen
    /// before: the lines so far are decoded in the layout they were written in, and a
    /// decoder of the wider layout goes on.
    fn write(
        &mut self,
        record: &dyn Record,
        out: &mut Out,
    ) -> Result<Result<(), String>, crate::Error> {
        let new = match new_keys(record, &self.keys, &mut self.ignored) {
            Ok(new) => new,
            Err(problem) => return Ok(Err(problem)),
        };
        if !new.is_empty() {
            self.drain(out)?;
            self.done += self.decoder.counts();
            self.keys.extend(new);
            self.decoder = decoder(&self.options, &self.keys, self.pushed);
        }
        Ok(write_line(record, &self.keys, &mut self.buf))
    }

    /// Decodes the lines held, and passes on their rejects (in line order) and batches.
    fn drain(&mut self, out: &mut Out) -> Result<(), crate::Error> {
        let mut rejects = std::mem::take(&mut self.rejects);
        let mut batches = Vec::new();
        let mut start = 0;
        while start < self.buf.len() {
            let n = self.decoder.decode(&self.buf[start..]);
            start += n;
            rejects.extend(self.decoder.take_rejects());
            if n == 0 && !self.decoder.ready() {
                // Every line held ends with a newline, so none is left unread; this
                // only guards the loop.
                break;
            }
            if self.decoder.ready() {
                out.stats.outside_window += self.decoder.take_outside();
                batches.extend(self.decoder.flush());
            }
        }
        out.stats.outside_window += self.decoder.take_outside();
        batches.extend(self.decoder.flush());
        out.stats.text_bytes += self.buf.len() as u64;
        rejects.sort_by_key(|r| r.line);
        for mut r in rejects {
            r.byte_offset = self
                .offsets
                .as_ref()
                .and_then(|o| o.get((r.line - self.buf_first - 1) as usize).copied())
                .unwrap_or(0);
            out.sink.reject(out.source, &r)?;
        }
        for b in batches.into_iter().filter(|b| b.num_rows() > 0) {
            out.sink.batch(out.source, b)?;
        }
        self.buf.clear();
        self.buf_first = self.pushed;
        if let Some(o) = self.offsets.as_mut() {
            o.clear();
        }
        Ok(())
    }

    /// The end of the input: what is held is decoded, and the counts added to `out`.
    /// Returns the layout of the last lines.
    pub fn finish(mut self, out: &mut Out) -> Result<Arc<Layout>, crate::Error> {
        self.drain(out)?;
        let mut counts = self.done;
        counts += self.decoder.counts();
        counts.blanks -= self.rejected;
        counts.rejected += self.rejected;
        out.stats.counts += counts;
        Ok(self.decoder.layout().clone())
    }
}

/// A decoder of OCSF lines with unmapped keys `keys`, numbering lines from `lines + 1`.
fn decoder(options: &ScanOptions, keys: &[String], lines: u64) -> Decoder {
    Decoder::new(DecoderOptions {
        batch_size: options.batch_size,
        layout: Some(Arc::new(layout(keys))),
        projection: options.projection.clone(),
        max_line_bytes: options.max_line_bytes,
        window: options.windowed().then(|| {
            (
                options.since.unwrap_or(i64::MIN),
                options.until.unwrap_or(i64::MAX),
            )
        }),
    })
    .with_position(lines, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_attributes_are_listed_in_the_enums_order() {
        // The Parquet reader finds an attribute's column at `attr as usize`.
        for (i, a) in Attr::ALL.iter().enumerate() {
            assert_eq!(*a as usize, i, "{a:?}");
        }
    }

    #[test]
    fn the_layout_is_the_base_fields_then_the_unmapped_keys() {
        let l = layout(&[
            "sublocation_id".into(),
            "ecs_task_id".into(),
            "x_other".into(),
        ]);
        let names: Vec<&str> = l.columns().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.len(), BASE.len() + 3);
        assert_eq!(&names[..3], ["version", "account-id", "interface-id"]);
        assert_eq!(&names[27..], ["sublocation-id", "ecs-task-id", "x_other"]);
        // A key that is a base field (the mapped value is the field's) or an enrichment
        // column is not a column of its own.
        assert!(!own_column("vpc_id") && !own_column("task_arn") && !own_column("Bad Key"));
        assert!(own_column("reject_reason"));
    }
}
