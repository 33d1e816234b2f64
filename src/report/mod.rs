//! `vpcflow report`: the audit as one self-contained HTML page.
//!
//! The page is built from the audit's findings and summary and from the aggregates
//! that [`traffic::Observer`] folds in the same pass over the records (bytes per
//! service over time, the peers of each service, rejected traffic by port). Every
//! chart has a bounded number of points, so the page stays small whatever the input's
//! size; it loads nothing from the network (its Content-Security-Policy forbids it) and
//! its charts are SVG drawn here ([`svg`]), themed by the page's CSS.

pub mod html;
pub mod svg;
pub mod traffic;

pub use html::{render, Limits, ReportInput};
pub use traffic::{Observer, TrafficState};
