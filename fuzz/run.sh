#!/usr/bin/env bash
# Runs one fuzz target for SECONDS (default 3600) at low priority (an input taking over
# 30 s is a hang, reported as a failure), logging to
# fuzz/logs/TARGET.log. Needs a nightly toolchain and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")"
target=$1
seconds=${2:-3600}
mkdir -p "corpus/$target" logs artifacts
exec nice -n 19 cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    >"logs/$target.log" 2>&1
