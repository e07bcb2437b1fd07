#!/bin/sh
# Run one libFuzzer target for $FUZZ_SECONDS (default 30) over its seed
# corpus; new inputs go to a scratch directory, never into the repository.
set -eu
target=$1 corpus=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$target" -max_total_time="${FUZZ_SECONDS:-30}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$scratch" "$corpus"
