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
//!   -> scan::plan (units: whole files, newline-aligned chunks of large ones)
//!   -> pipeline (units on worker threads, results back in input order)
//!        -> scan (read blocks, roll partial lines, time window, accounting)
//!        -> parse::Decoder (bytes -> validated fields, push contract, no I/O)
//!        -> batch::BatchBuilder (Arrow columns -> RecordBatch)
//!        -> enrich (attribution to tasks; orient: own side, peer, direction)
//!        -> a fold (policy::audit, query) or an ordered job (output: JSON Lines, CSV,
//!           Parquet)
//! ```
//!
//! - [`format`](mod@format) — the field registry of versions 2 to 11 and record layouts.
//! - [`parse`] — the push decoder.
//! - [`batch`] — Arrow column builders.
//! - [`source`] — finding and opening inputs.
//! - [`scan`] — one unit's read loop and its statistics.
//! - [`pipeline`] — the ordered parallel scan (see its documentation for an audit from
//!   Rust).
//! - [`enrich`] — the ENI map, attribution as of each record's time, orientation.
//! - [`initiator`] — who opened a connection.
//! - [`aws_ranges`] — AWS's published address ranges (`ip-ranges.json`): which AWS
//!   service an address is.
//! - [`policy`] — the policy file and the audit.
//! - [`query`] — filters, group-by, conversations.
//! - [`report`] — the audit as one self-contained HTML page.
//! - [`output`] — writers, and the prose of errors.
//! - [`error`] — typed errors: rejected lines, file errors.

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
pub mod source;
pub mod sql;
pub mod text;
pub mod time;

pub use error::Error;
pub use format::Layout;
pub use parse::{Decoder, DecoderOptions, LineCounts, Reject};
