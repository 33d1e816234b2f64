//! # vpcflow
//!
//! Who is actually talking to my Amazon ECS tasks, and should they be? `vpcflow` reads
//! AWS VPC Flow Logs (every format from the v2 default to v11, custom field orders,
//! header lines, plain, gzip, S3 directory trees, stdin) into Arrow `RecordBatch`es and
//! answers that question from them.
//!
//! The library holds all the logic; the `vpcflow` binary is a thin command line over
//! it. Data flows one way:
//!
//! ```text
//! source (paths, S3 layouts, gzip, stdin)
//!   -> scan::plan (units: whole files, newline-aligned chunks, Parquet row ranges)
//!   -> pipeline (units on worker threads, results back in input order)
//!        -> input (one sniff; the form's reader: flow-log text, AWS's Parquet, OCSF)
//!        -> parse::Decoder (bytes -> validated fields, push contract, no I/O)
//!        -> batch::BatchBuilder (Arrow columns -> RecordBatch)
//!        -> enrich (attribution to tasks; orient: own side, peer, direction)
//!        -> a fold (policy::audit, query, report) or an ordered job (output: JSON
//!           Lines, CSV, Parquet)
//! ```
//!
//! ARCHITECTURE.md draws the layers (a module uses only those below it) and says where
//! each common change is made.
//!
//! - [`text`], [`time`], [`intern`], [`net`] — safe text, times, interned strings,
//!   addresses, CIDR blocks and protocols.
//! - [`format`](mod@format) — the field registry of versions 2 to 11 and record layouts.
//! - [`error`] — typed errors about input: rejected lines, file errors, line accounting.
//! - [`batch`], [`columns`], [`fold`] — Arrow column builders, typed column views (and a
//!   record's time), the contract of a fold.
//! - [`parse`] — the push decoder.
//! - [`aws_ranges`] — AWS's published address ranges (`ip-ranges.json`): which AWS
//!   service an address is.
//! - [`secgroups`] — security groups (`describe-security-groups`) judged against the
//!   observed connections: the rule that admitted each, unused and too-wide rules, the
//!   proposed change.
//! - [`source`], [`s3`] — finding and opening inputs; S3 requests.
//! - [`input`] — what an input is (one sniff) and one reader per form.
//! - [`scan`] — units and one unit's read.
//! - [`enrich`] — the ENI map and its sources, attribution as of each record's time,
//!   orientation.
//! - [`initiator`] — who opened a connection.
//! - [`policy`] — the policy file, one file per rule, the audit.
//! - [`pipeline`] — the ordered parallel scan (see its documentation for an audit from
//!   Rust).
//! - [`output`] — writers, and the prose of errors.
//! - [`query`] — filters, group-by, conversations.
//! - [`sql`] — the audit as SQL for Spark, Athena and DuckDB.
//! - [`report`] — the audit as one self-contained HTML page.

pub mod aws_ranges;
pub mod batch;
pub mod columns;
pub mod enrich;
pub mod error;
pub mod fold;
pub mod format;
pub mod initiator;
pub mod input;
pub mod intern;
pub mod net;
pub mod output;
pub mod parse;
pub mod pipeline;
pub mod policy;
pub mod query;
pub mod report;
pub mod s3;
pub mod scan;
pub mod secgroups;
pub mod source;
pub mod sql;
pub mod text;
pub mod time;

pub use error::Error;
pub use format::Layout;
pub use parse::{Decoder, DecoderOptions, LineCounts, Reject};
