#!/usr/bin/env python3
"""Seeds for the `parquet` fuzz target, written by pyarrow into fuzz/corpus/parquet/:
flow logs as AWS's Parquet delivery and other writers shape them (v2 and v5 columns,
dictionary and plain pages, GZIP, Snappy, ZSTD and no compression, one and many row
groups, a page index, binary and struct columns, numbers as text, nulls), and copies
with a few bytes of their footer changed. Run: python3 fuzz/parquet-seeds.py"""
import io
import os
import random
import struct

import pyarrow as pa
import pyarrow.parquet as pq

out = os.path.join(os.path.dirname(__file__), "corpus", "parquet")
os.makedirs(out, exist_ok=True)
n = 12
v2 = {
    "version": pa.array([2] * n, pa.int32()),
    "account_id": pa.array(["123456789012"] * n),
    "interface_id": pa.array([f"eni-0{i % 3}" for i in range(n)]),
    "srcaddr": pa.array(["10.0.0.9", "2001:db8::1", "-", None] * (n // 4)),
    "dstaddr": pa.array(["10.0.0.1"] * n),
    "srcport": pa.array([40000 + i for i in range(n)], pa.int32()),
    "dstport": pa.array([443] * n, pa.int32()),
    "protocol": pa.array([6] * n, pa.int64()),
    "packets": pa.array([2] * n, pa.int64()),
    "bytes": pa.array([100 * i for i in range(n)], pa.int64()),
    "start": pa.array([1790000000 + i for i in range(n)], pa.int64()),
    "end": pa.array([1790000060 + i for i in range(n)], pa.int64()),
    "action": pa.array(["ACCEPT", "REJECT"] * (n // 2)),
    "log_status": pa.array(["OK"] * n),
}
v5 = dict(v2, **{
    "vpc_id": pa.array(["vpc-1"] * n),
    "flow_direction": pa.array(["ingress", "egress"] * (n // 2)),
    "pkt_src_aws_service": pa.array([None, "S3"] * (n // 2)),
    "traffic_path": pa.array([None, 1] * (n // 2), pa.int32()),
})
tables = {
    "v2": pa.table(v2),
    "v5": pa.table(v5),
    "text-numbers": pa.table(dict(v2, srcport=pa.array([str(40000 + i) for i in range(n)]),
                                  bytes=pa.array(["1e3", "12", "-"] * (n // 3)))),
    "binary": pa.table(dict(v2, srcaddr=pa.array([b"10.0.0.9", b"10.0.\xff.9"] * (n // 2)))),
    "struct": pa.table(dict(v2, srcaddr=pa.array([{"ip": "10.0.0.9"}] * n))),
    "dictionary": pa.table(dict(v2, interface_id=pa.array(["eni-1"] * n).dictionary_encode())),
}
seeds = []
for name, table in tables.items():
    for compression in ["gzip", "snappy", "zstd", "none"]:
        for groups in [n, 3, 1]:
            buf = io.BytesIO()
            pq.write_table(table, buf, compression=compression, row_group_size=groups,
                           write_page_index=(groups == 3), data_page_size=64)
            seeds.append((f"{name}-{compression}-{groups}", buf.getvalue()))
# Footer mutations: a few bytes of the footer (row counts, sizes, offsets, types, all
# thrift-encoded there) changed, four copies of each file of one row group.
rng = random.Random(23)
for name, data in list(seeds):
    if not name.endswith("-12"):
        continue
    footer_len = struct.unpack("<i", data[-8:-4])[0]
    start = len(data) - 8 - footer_len
    for k in range(4):
        b = bytearray(data)
        for _ in range(1 + k % 3):
            b[rng.randrange(start, len(data) - 8)] = rng.choice([0x00, 0x01, 0x15, 0x7F, 0xFF, rng.randrange(256)])
        seeds.append((f"{name}-footer{k}", bytes(b)))
for name, data in seeds:
    with open(os.path.join(out, name + ".parquet"), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {out}")
