#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite: `start DIR` makes one in DIR (owned by an
# unprivileged user when run as root: the server refuses to run as root), listening only on a
# Unix socket in DIR, and prints the URL of its `postgres` database; `stop DIR` stops it.
# Nothing is mocked: this is Debian's own server. Used by scripts/test; `bin` prints where
# the server's programs are.
set -euo pipefail

pg_bin() {
    local bin
    # Debian keeps the server's programs off PATH, all in one directory.
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    if [ -n "$bin" ] && [ -x "$bin/initdb" ]; then
        echo "$bin"
    elif command -v initdb >/dev/null 2>&1 && command -v psql >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    else
        echo "pg-cluster: no initdb found (install Debian's postgresql package)" >&2
        exit 1
    fi
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
    # TLS on 127.0.0.1 as well, when openssl is there to make certificates: a throwaway CA
    # (`$dir/ca.crt`) signs a certificate for `localhost`, and TCP connections must use TLS
    # (hostssl). `$dir/tls-url` then holds a URL for it (tests/cli/tls.rs).
    net="-c listen_addresses=''"
    if command -v openssl >/dev/null 2>&1; then
        # A port nobody listens on now (python3 asks the kernel for one), else a random one.
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
            || echo $((20000 + RANDOM % 20000)))
        (
            set -e
            cd "$dir"
            openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 2 \
                -subj /CN=sa-test-ca -keyout ca.key -out ca.crt
            openssl req -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
                -subj /CN=localhost -keyout data/server.key -out server.csr
            printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
                -extfile server.ext -out data/server.crt
        ) >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; exit 1; }
        chmod 0600 "$dir/data/server.key"
        [ "$(id -u)" = 0 ] && chown nobody:nogroup "$dir/data/server.key" "$dir/data/server.crt"
        sed -i 's/^host\(\s\+all\s\+all\s\+127\.0\.0\.1\)/hostssl\1/' "$dir/data/pg_hba.conf"
        # And a role that must give its password (the tests of $PGPASSWORD and .pgpass).
        sed -i '1i hostssl all sa_pw 127.0.0.1/32 scram-sha-256' "$dir/data/pg_hba.conf"
        net="-c listen_addresses=127.0.0.1 -c ssl=on -p $port"
        echo "postgresql://localhost:$port/postgres?user=sa&sslrootcert=$dir/ca.crt" >"$dir/tls-url"
    fi
    # fsync off: a test cluster is thrown away, and the suite makes a database per test.
    # SA_PG_DURABLE=1 keeps PostgreSQL's durable defaults (scripts/pg-bench.sh sets it).
    durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [ -n "${SA_PG_DURABLE:-}" ] && durability=""
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
        "-k $dir $net $durability -c max_connections=300" \
        start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    if [ -n "${port:-}" ]; then
        "$bin/psql" -XqAt "host=$dir port=$port user=sa dbname=postgres" \
            -c "CREATE ROLE sa_pw LOGIN SUPERUSER PASSWORD 'sa-test-password'" >/dev/null
    fi
    echo "postgresql:///postgres?host=$dir&user=sa${port:+&port=$port}"
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
