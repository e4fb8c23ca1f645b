#!/usr/bin/env bash
# Races eight first uses of a fresh database, ROUNDS times, and counts the processes that
# failed. Every round should also print "created a new sa database" exactly once.
#   usage: scripts/race-first-use.sh [SA_BINARY] [ROUNDS]
# The integration test concurrent_first_uses_create_and_migrate_the_database_once does 20
# rounds; this script is for the hundreds that catch a one-in-twenty race.
set -uo pipefail
bin=${1:-target/release/sa}
rounds=${2:-200}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[argon2]\nmemory_kib = 8\niterations = 1\nparallelism = 1\n' >"$work/config.toml"
fails=0
not_once=0
for round in $(seq "$rounds"); do
    dir="$work/round-$round"
    mkdir -p "$dir"
    for i in $(seq 8); do
        (SA_CONFIG="$work/config.toml" SA_DB="$dir/data/sa.db" SA_ACTOR=race \
            "$bin" create --name "bot-$i" >/dev/null 2>"$dir/err-$i" || touch "$dir/failed-$i") &
    done
    wait
    for i in $(seq 8); do
        if [ -e "$dir/failed-$i" ]; then
            fails=$((fails + 1))
            head -1 "$dir/err-$i"
        fi
    done
    created=$(grep -l '^created a new sa database' "$dir"/err-* | wc -l)
    [ "$created" -eq 1 ] || not_once=$((not_once + 1))
    rm -rf "$dir"
done
echo "failed processes: $fails; rounds not saying 'created' exactly once: $not_once; rounds: $rounds"
[ "$fails" -eq 0 ] && [ "$not_once" -eq 0 ]
