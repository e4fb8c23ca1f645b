#!/usr/bin/env bash
# benches/stores.rs against a throwaway PostgreSQL cluster (scripts/pg-cluster.sh) with the
# server's durable defaults (fsync on), stopped afterwards whatever happens. Arguments go to
# `cargo bench --bench stores`.
set -euo pipefail
cd "$(dirname "$0")/.."
cluster=$(mktemp -d /tmp/sa-pg.XXXXXX)
trap 'scripts/pg-cluster.sh stop "$cluster"; rm -rf "$cluster"' EXIT
SA_BENCH_PG=$(SA_PG_DURABLE=1 scripts/pg-cluster.sh start "$cluster") cargo bench --bench stores "$@"
