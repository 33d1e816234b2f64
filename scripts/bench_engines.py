#!/usr/bin/env python3
"""Per-ENI totals of a flow-log file or S3 tree with DuckDB or DataFusion, for
scripts/bench.sh. Prints one line: `records bytes` (the grand totals), so the script can
check that every engine agrees.

    bench_engines.py duckdb|datafusion totals|by-eni PATH_OR_GLOB
    bench_engines.py duckdb convert PATH_OR_GLOB OUT.parquet

`convert` is DuckDB's `COPY (FROM read_csv(...)) TO 'OUT.parquet'` (its default Parquet
settings), the counterpart of `vpcflow convert`.
"""
import sys

V2 = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
      "bytes start end action log-status").split()
V5 = V2 + ("vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id "
           "sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service "
           "flow-direction traffic-path").split()
INTS = {"version", "srcport", "dstport", "protocol", "packets", "bytes", "start", "end",
        "tcp-flags", "traffic-path"}


def columns(path):
    import gzip, glob
    first = sorted(glob.glob(path, recursive=True))[0] if "*" in path else path
    opener = gzip.open if first.endswith(".gz") else open
    with opener(first, "rt") as f:
        return f.readline().split()


def duckdb_query(mode, path, out=None):
    import duckdb
    cols = columns(path)
    spec = ", ".join(f"'{c}': '{'BIGINT' if c in INTS else 'VARCHAR'}'" for c in cols)
    src = (f"read_csv('{path}', delim=' ', header=true, nullstr='-', columns={{{spec}}}, "
           "auto_detect=false)")
    if mode == "convert":
        duckdb.sql(f"copy (from {src}) to '{out}' (format parquet)")
        return duckdb.sql(f"select count(*), sum(bytes) from '{out}'").fetchall()[0]
    if mode == "by-eni":
        rows = duckdb.sql(f'select "interface-id", count(*) r, sum(bytes) b from {src} group by 1').fetchall()
        return sum(r[1] for r in rows), sum(r[2] or 0 for r in rows)
    return duckdb.sql(f"select count(*), sum(bytes) from {src}").fetchall()[0]


def datafusion_query(mode, path):
    import datafusion
    import pyarrow as pa
    cols = columns(path)
    # DataFusion's CSV reader has no null token: read text, turn '-' into null in SQL.
    schema = pa.schema([(c.replace("-", "_"), pa.string()) for c in cols])
    config = datafusion.SessionConfig().set(
        "datafusion.execution.listing_table_ignore_subdirectory", "false")
    ctx = datafusion.SessionContext(config)
    gz = path.endswith(".gz")
    ctx.register_csv("t", path.replace("**/*.log.gz", ""), schema=schema, has_header=True,
                     delimiter=" ", file_extension=".log.gz" if gz else ".log",
                     file_compression_type="gzip" if gz else None)
    b = "cast(nullif(bytes, '-') as bigint)"
    if mode == "by-eni":
        rows = ctx.sql(f"select interface_id, count(*) r, sum({b}) b from t group by 1").to_pylist()
        return sum(r["r"] for r in rows), sum(r["b"] or 0 for r in rows)
    r = ctx.sql(f"select count(*) r, sum({b}) b from t").to_pylist()[0]
    return r["r"], r["b"]


if __name__ == "__main__":
    engine, mode, path = sys.argv[1:4]
    if mode == "convert":
        records, total = duckdb_query(mode, path, sys.argv[4])
    else:
        records, total = (duckdb_query if engine == "duckdb" else datafusion_query)(mode, path)
    print(records, total)
