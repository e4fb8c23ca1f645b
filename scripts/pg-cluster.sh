#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite: `start DIR` makes one in DIR (owned by an
# unprivileged user when run as root: the server refuses to run as root), listening only on a
# Unix socket in DIR, and prints the URL of its `postgres` database; `stop DIR` stops it.
# Nothing is mocked: this is Debian's own server. Used by scripts/test; `bin` prints where
# the server's programs are.
set -euo pipefail

pg_bin() {
    local bin
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    # Debian keeps the server's programs off PATH.
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "pg-cluster: no initdb found (install Debian's postgresql package)" >&2
        exit 1
    fi
    echo "$bin"
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u nobody -- "$@"
    else
        "$@"
    fi
}

cmd=${1:-}
dir=${2:-}
if [ "$cmd" = bin ]; then
    # Where the server's programs are (fails when there is no server).
    pg_bin
    exit
fi
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR, or $0 bin" >&2; exit 2; }
bin=$(pg_bin)

case "$cmd" in
start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown nobody:nogroup "$dir"
    chmod 0700 "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U sa --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 -N >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    # fsync off: a test cluster is thrown away, and the suite makes a database per test.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
        "-k $dir -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql:///postgres?host=$dir&user=sa"
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
