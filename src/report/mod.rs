//! `vpcflow report`: the audit as one self-contained HTML page.
//!
//! The page is built from the audit's findings and summary and from the aggregates
//! that [`traffic::Observer`] folds in the same pass over the records (bytes per
//! service over time, the peers of each service, rejected traffic by port). Every
//! chart has a bounded number of points, so the page stays small whatever the input's
//! size; it loads nothing from the network (its Content-Security-Policy forbids it) and
//! its charts are SVG drawn here ([`svg`]), themed by the page's CSS.
//!
//! One file a job, each using only those listed above it:
//! - `fmt`: escaping for HTML, byte counts, thousands separators;
//! - `words`: times, durations, plurals, protocol and port names, the names of
//!   services and peer groups;
//! - [`traffic`]: the aggregates and their fold; [`svg`]: the charts;
//! - `input`: what the page is made of ([`ReportInput`], [`Limits`]);
//! - `view`: what the page shows (the services in order, the findings with rows, the
//!   time grid);
//! - the page's parts: `verdict` (the banner), `summary`, `findings` (the table),
//!   `peers` and `service` (a service's article), `rejected`;
//! - `page`: the skeleton that puts the parts in order ([`render`]).

mod findings;
mod fmt;
mod input;
mod page;
mod peers;
mod rejected;
mod service;
mod summary;
pub mod svg;
pub mod traffic;
mod verdict;
mod view;
mod words;

pub use input::{Limits, ReportInput};
pub use page::render;
pub use traffic::{Observer, TrafficState};
