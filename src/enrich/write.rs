//! Writing the map: the canonical CSV that `--map` reads back, and one Arrow batch of
//! the same columns for the Parquet table of `vpcflow map --format parquet`.

use super::load::CSV_HEADER;
use super::MapRow;
use crate::net;

/// Writes rows as the canonical CSV (the format `--map` reads back).
pub fn write_map_csv<'a>(
    rows: impl Iterator<Item = &'a MapRow>,
    out: impl std::io::Write,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADER)?;
    let time = |t: Option<i64>| t.map(crate::time::rfc3339).unwrap_or_default();
    for r in rows {
        w.write_record([
            r.eni_id.as_str(),
            r.kind.as_str(),
            &net::addr_string(&r.private_ip),
            r.task_arn.as_deref().unwrap_or(""),
            r.cluster.as_deref().unwrap_or(""),
            r.service.as_deref().unwrap_or(""),
            r.task_family.as_deref().unwrap_or(""),
            &r.security_groups.join(";"),
            r.subnet_id.as_deref().unwrap_or(""),
            r.vpc_id.as_deref().unwrap_or(""),
            &time(r.valid_from),
            &time(r.valid_to),
            r.load_balancer.as_deref().unwrap_or(""),
            &r.source,
        ])?;
    }
    w.flush()
}

/// The map as one Arrow batch, for the Parquet table of `vpcflow map --format parquet`:
/// the CSV's columns, with `valid_from`/`valid_to` as unix seconds (null: unbounded) so
/// that an engine joins records to the map as of their `start` with plain comparisons.
pub fn map_batch<'a>(rows: impl Iterator<Item = &'a MapRow>) -> arrow::record_batch::RecordBatch {
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let rows: Vec<&MapRow> = rows.collect();
    let text = |f: &dyn Fn(&MapRow) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| f(r)).collect::<StringArray>())
    };
    let time = |f: &dyn Fn(&MapRow) -> Option<i64>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| f(r)).collect::<Int64Array>())
    };
    let columns: Vec<ArrayRef> = vec![
        text(&|r| Some(r.eni_id.clone())),
        text(&|r| Some(r.kind.as_str().to_string())),
        text(&|r| Some(net::addr_string(&r.private_ip))),
        text(&|r| r.task_arn.clone()),
        text(&|r| r.cluster.clone()),
        text(&|r| r.service.clone()),
        text(&|r| r.task_family.clone()),
        text(&|r| Some(r.security_groups.join(";"))),
        text(&|r| r.subnet_id.clone()),
        text(&|r| r.vpc_id.clone()),
        time(&|r| r.valid_from),
        time(&|r| r.valid_to),
        text(&|r| r.load_balancer.clone()),
        text(&|r| Some(r.source.clone())),
    ];
    let fields: Vec<Field> = CSV_HEADER
        .iter()
        .map(|name| {
            let t = if name.starts_with("valid_") {
                DataType::Int64
            } else {
                DataType::Utf8
            };
            Field::new(*name, t, true)
        })
        .collect();
    arrow::record_batch::RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .expect("one column per header name, of the rows' length")
}
