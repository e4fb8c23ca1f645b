#!/usr/bin/env bash
# `sa scan` against ripgrep with the token pattern, over the same generated tree (issue 12:
# within 2x of rg). Needs a release build (`cargo build --release`), `rg` (Debian: `apt-get
# install ripgrep`; or `cargo install ripgrep`) and python3 (the generator).
#
#   scripts/scan-bench.sh [DIR]        # DIR: where the tree goes (default: a temp dir, removed)
#
# Environment: SIZE_MB (default 256) the tree's size; RUNS (default 7) timed runs of each,
# after one untimed run of each that warms the page cache; SA (default target/release/sa).
#
# The tree: source-like files full of snake_case names, pretty and minified JSON, logs with
# URL-safe base64 (`_` and letters: many near-token candidates), hex digests and UUIDs, a few
# large files and one minified line of several MB; a `.gitignore`d `node_modules/` holding 10%
# of the bytes and binary files with NUL bytes (both tools skip them); a `.env` and four other
# files holding five live tokens minted for the run. Both tools scan hidden files and honour
# .gitignore without a git repository (`rg --hidden --no-require-git`); rg prints each match
# (`-o`), sa its table of findings. The figure is the median wall time of each, and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
SA="${SA:-$PWD/target/release/sa}"
SIZE_MB="${SIZE_MB:-256}"
RUNS="${RUNS:-7}"
command -v rg >/dev/null || { echo "rg not found: apt-get install ripgrep" >&2; exit 2; }
[ -x "$SA" ] || { echo "$SA not found: cargo build --release" >&2; exit 2; }

if [ $# -ge 1 ]; then
    WORK="$1"
    mkdir -p "$WORK"
else
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
fi
TREE="$WORK/tree"
export SA_DB="$WORK/sa.db" SA_CONFIG="$WORK/config.toml"
: >"$SA_CONFIG"

if [ ! -d "$TREE" ]; then
    rm -f "$SA_DB"
    "$SA" create --name bench-bot -q >/dev/null
    TOKENS=""
    for _ in 1 2 3 4 5; do
        TOKENS="$TOKENS $("$SA" token add bench-bot --expires 7d -q)"
    done
    echo "== generating a ${SIZE_MB} MB tree in $TREE"
    python3 - "$TREE" "$SIZE_MB" $TOKENS <<'PY'
import os, random, string, sys

root, size_mb, tokens = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rng = random.Random(12)
alnum = string.ascii_letters + string.digits
b64url = alnum + "-_"
words = ["user", "token", "account", "request", "handler", "config", "value", "index",
         "buffer", "stream", "result", "error", "client", "server", "cache", "batch", "node"]

def ident():
    return "_".join(rng.choice(words) for _ in range(rng.randint(1, 4)))

def code_line():
    kind = rng.randrange(4)
    if kind == 0:
        return f"    let {ident()} = {ident()}({ident()}, \"{ident()}\");"
    if kind == 1:
        return f"fn {ident()}({ident()}: &{ident().title()}) -> Result<{ident().title()}> {{"
    if kind == 2:
        return f"    // {' '.join(rng.choice(words) for _ in range(rng.randint(3, 12)))}"
    return f"    {ident()}.{ident()}({rng.randint(0, 10**6)});"

def log_line():
    stamp = f"2026-11-{rng.randint(1, 30):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z"
    blob = "".join(rng.choices(b64url, k=rng.randint(20, 120)))
    digest = "%064x" % rng.getrandbits(256)
    return f"{stamp} INFO {ident()} session={blob} sha256={digest} id={rng.getrandbits(128):032x}"

def json_doc(minified):
    items = [{"id": i, ident(): ident(), "key_hint": "".join(rng.choices(alnum, k=12)),
              "payload": "".join(rng.choices(b64url, k=40))} for i in range(40)]
    import json
    return json.dumps(items, separators=(",", ":")) if minified else json.dumps(items, indent=2)

def text(target, kind):
    out, size = [], 0
    while size < target:
        line = kind()
        out.append(line)
        size += len(line) + 1
    return "\n".join(out) + "\n"

total = size_mb * 1024 * 1024
written = 0
files = []
n = 0
def write(rel, data):
    global written
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)
    written += len(data)
    files.append(rel)

write(".gitignore", "node_modules/\n*.tmp\n")
ignored = total // 10
while written < ignored:
    write(f"node_modules/pkg{n % 50}/lib{n}.js", text(rng.randint(20_000, 120_000), code_line))
    n += 1
write("dist/app.min.js", ";".join(code_line().strip() for _ in range(60_000)))
for i in range(3):
    write(f"logs/big{i}.log", text(8 * 1024 * 1024, log_line))
for i in range(20):
    write(f"assets/blob{i}.bin", bytes(rng.getrandbits(8) for _ in range(4096)) + b"\0" * 64)
while written < total:
    kind = rng.randrange(10)
    d = f"src/mod{n % 97}/sub{n % 13}"
    if kind < 6:
        write(f"{d}/file{n}.rs", text(rng.randint(10_000, 100_000), code_line))
    elif kind < 8:
        write(f"{d}/data{n}.json", json_doc(minified=kind == 7) + "\n")
    else:
        write(f"{d}/run{n}.log", text(rng.randint(10_000, 200_000), log_line))
    n += 1

# The tokens: a .env, a JSON file, the middle of a log, a minified line, a source file.
def plant(rel, line):
    path = os.path.join(root, rel)
    with open(path, "a") as f:
        f.write(line)
plant(".env", f"SA_TOKEN={tokens[0]}\n")
json_file = next(f for f in files if f.endswith(".json"))
plant(json_file, f'{{"token":"{tokens[1]}"}}\n')
plant("logs/big1.log", f"2026-11-30T00:00:00Z WARN leaked header Authorization: Bearer {tokens[2]}\n")
plant("dist/app.min.js", f';const t="{tokens[3]}";')
rs_file = next(f for f in files if f.endswith(".rs") and not f.startswith("node_modules"))
plant(rs_file, f'    let token = "{tokens[4]}";\n')
plant("node_modules/pkg0/ignored.js", f'const t = "{tokens[0]}";\n')
print(f"{len(files)} files, {written / 1024 / 1024:.0f} MB")
PY
fi

PATTERN='\b[a-z][a-z0-9]{0,15}_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}\b'
du -sh "$TREE" | sed 's/^/== tree: /'
echo "== rg: $(rg --version | sed -n 1p); cores: $(nproc)"
rg_run() { rg --no-config --hidden --no-require-git -o -e "$PATTERN" "$TREE" >/dev/null; }
# sa exits 1 when it finds a live token, as it will here.
sa_run() { "$SA" scan -q "$TREE" >/dev/null || [ $? -eq 1 ]; }

echo "== what each finds"
rg --no-config --hidden --no-require-git -c -e "$PATTERN" "$TREE" | sed "s|$TREE/||"
"$SA" scan "$TREE" 2>&1 | sed "s|$TREE/||" || true

seconds() { local start end; start=$(date +%s%N); "$@"; end=$(date +%s%N); echo $(((end - start) / 1000000)); }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
rg_run
sa_run
rg_times=()
sa_times=()
for _ in $(seq "$RUNS"); do
    rg_times+=("$(seconds rg_run)")
    sa_times+=("$(seconds sa_run)")
done
rg_ms=$(printf '%s\n' "${rg_times[@]}" | median)
sa_ms=$(printf '%s\n' "${sa_times[@]}" | median)
echo "== rg runs (ms): ${rg_times[*]}"
echo "== sa runs (ms): ${sa_times[*]}"
awk -v r="$rg_ms" -v s="$sa_ms" 'BEGIN { printf "== median: rg %d ms, sa scan %d ms, sa/rg = %.2f\n", r, s, s / r }'
