#!/usr/bin/env bash
# HTTP benchmark of a running MuniShare server against nginx serving a static file of the
# same size (a "how close to a trivial server are we" baseline). Loopback only.
#
# Usage (from the repo root):
#   scripts/bench-http.sh                 # build, run, measure, append to docs/benchmarks.md
#   scripts/bench-http.sh --no-write      # same, but only print the table
#   scripts/bench-http.sh --no-build      # skip `cargo build`; use an existing binary
#                                         # ($MUNISHARE_BIN, default target/release/munishare)
#   scripts/bench-http.sh --static-only 1234,5678 [--no-write]
#                                         # nginx half only, static files of those byte sizes
#                                         # (self-test of the baseline; never writes the doc)
#
# Method (see docs/benchmarks.md): wrk -t2 -c64 -d10s --latency on 127.0.0.1 against
#   (a) GET /api/v1/towns/hartford/services with a bearer token (clerk.hartford, finance),
#   (b) GET /signin,
# then the same wrk command against nginx (2 workers, access_log off) serving a static file
# of exactly the same body size as each. BENCH_DURATION overrides -d (default 10s) for
# quick trials only; recorded results should use the default.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO_ROOT="$(pwd)"

SERVER_ADDR="127.0.0.1:18080"
NGINX_ADDR="127.0.0.1:18081"
DURATION="${BENCH_DURATION:-10s}"
WRK_ARGS=(-t2 -c64 "-d${DURATION}" --latency)
DEMO_PASSWORD="bench-password-123"
OUT_DOC="docs/benchmarks.md"

MUNISHARE_BIN="${MUNISHARE_BIN:-$REPO_ROOT/target/release/munishare}"

WRITE=1
BUILD=1
STATIC_ONLY=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --no-write) WRITE=0 ;;
        --no-build) BUILD=0 ;;
        --static-only)
            STATIC_ONLY="${2:?--static-only needs comma-separated byte sizes}"
            WRITE=0
            shift
            ;;
        -h | --help)
            sed -n '2,22p' "$0"
            exit 0
            ;;
        *)
            echo "unknown argument: $1" >&2
            exit 2
            ;;
    esac
    shift
done

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

# ---- tools ------------------------------------------------------------------------------
NGINX_BIN="$(command -v nginx || true)"
[[ -z "$NGINX_BIN" && -x /usr/sbin/nginx ]] && NGINX_BIN=/usr/sbin/nginx
if ! command -v wrk >/dev/null 2>&1 || [[ -z "$NGINX_BIN" ]]; then
    log "installing wrk and nginx with apt"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx >/dev/null
    NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
fi
command -v curl >/dev/null 2>&1 || die "curl is required"
command -v python3 >/dev/null 2>&1 || die "python3 is required"

port_free() { ! (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }

# ---- cleanup ----------------------------------------------------------------------------
WORK="$(mktemp -d -t munishare-bench.XXXXXX)"
# nginx workers run as an unprivileged user (www-data) when started as root: they need to
# traverse $WORK (0711: no listing) and read $WORK/static (0755). Everything else stays private.
chmod 0711 "$WORK"
SERVER_PID=""
NGINX_PID=""
WRK_PID=""
cleanup() {
    local pid
    for pid in "$WRK_PID" "$SERVER_PID" "$NGINX_PID"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
        fi
    done
    for pid in "$WRK_PID" "$SERVER_PID" "$NGINX_PID"; do
        if [[ -n "$pid" ]]; then wait "$pid" 2>/dev/null || true; fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- helpers ----------------------------------------------------------------------------
# run_wrk OUTFILE URL [extra wrk args...]; fails on non-2xx/3xx answers, warns on socket errors.
run_wrk() {
    local out="$1" url="$2"
    shift 2
    log "wrk ${WRK_ARGS[*]} $(printf '%s ' "$@" | sed 's/Bearer [^ ]*/Bearer <token>/')$url"
    # In the background + `wait`, so that Ctrl-C / TERM runs the cleanup trap at once.
    wrk "${WRK_ARGS[@]}" "$@" "$url" >"$out" 2>&1 &
    WRK_PID=$!
    if ! wait "$WRK_PID"; then
        WRK_PID=""
        cat "$out" >&2
        die "wrk failed against $url"
    fi
    WRK_PID=""
    if grep -q 'Non-2xx or 3xx responses' "$out"; then
        cat "$out" >&2
        die "non-2xx/3xx responses from $url: the measurement would be meaningless"
    fi
    if grep -q 'Socket errors' "$out"; then
        log "WARNING: socket errors against $url: $(grep 'Socket errors' "$out")"
    fi
    grep -q '^Requests/sec:' "$out" || {
        cat "$out" >&2
        die "could not parse wrk output for $url"
    }
}

# wrk_field OUTFILE rps|p50|p99 -> number (req/s, or latency in ms)
wrk_field() {
    python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
field = sys.argv[2]
if field == "rps":
    print(re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M).group(1))
else:
    pct = {"p50": "50%", "p99": "99%"}[field]
    m = re.search(r"^\s+" + re.escape(pct) + r"\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    ms = value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
    print(f"{ms:.2f}")
PY
}

wait_http() { # wait_http URL SECONDS [PID]
    local url="$1" secs="$2" pid="${3:-}" i
    for ((i = 0; i < secs * 4; i++)); do
        if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        sleep 0.25
    done
    return 1
}

# ---- nginx baseline ---------------------------------------------------------------------
start_nginx() {
    local root="$WORK/static" prefix="$WORK/nginx"
    mkdir -p "$prefix/tmp" "$prefix/logs"
    port_free "$NGINX_ADDR" || die "$NGINX_ADDR is already in use"
    cat >"$prefix/nginx.conf" <<CONF
worker_processes 2;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    default_type text/html;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $prefix/tmp/client;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    server {
        listen $NGINX_ADDR;
        root $root;
    }
}
CONF
    "$NGINX_BIN" -p "$prefix" -e "$prefix/logs/error.log" -c "$prefix/nginx.conf" -g 'daemon off;' &
    NGINX_PID=$!
    local i
    for ((i = 0; i < 40; i++)); do
        if ! kill -0 "$NGINX_PID" 2>/dev/null; then
            cat "$prefix/logs/error.log" >&2 2>/dev/null || true
            NGINX_PID=""
            die "nginx exited at start"
        fi
        if ! port_free "$NGINX_ADDR"; then return 0; fi
        sleep 0.25
    done
    die "nginx did not start listening on $NGINX_ADDR"
}

# make_static NAME SIZE: a file of exactly SIZE bytes under the nginx root
make_static() {
    mkdir -p "$WORK/static"
    chmod 0755 "$WORK/static"
    head -c "$2" /dev/zero | tr '\0' 'x' >"$WORK/static/$1"
    chmod 0644 "$WORK/static/$1"
    [[ "$(stat -c %s "$WORK/static/$1")" == "$2" ]] || die "static file $1 has the wrong size"
}

# bench_static NAME SIZE -> sets NGINX_RPS; checks nginx returns exactly SIZE bytes
bench_static() {
    local name="$1" size="$2" got
    got="$(curl -s -o /dev/null -w '%{size_download}' "http://$NGINX_ADDR/$name")"
    [[ "$got" == "$size" ]] || die "nginx served $got bytes for $name, expected $size"
    run_wrk "$WORK/wrk-nginx-$name.txt" "http://$NGINX_ADDR/$name"
    NGINX_RPS="$(wrk_field "$WORK/wrk-nginx-$name.txt" rps)"
}

ROWS=()
VERDICTS=()
add_row() { # add_row LABEL RPS P50 P99 NGINX_RPS
    local ratio verdict
    ratio="$(python3 -c "import sys; print(f'{100*float(sys.argv[1])/float(sys.argv[2]):.0f}%')" "$2" "$5")"
    verdict="$(python3 -c "
import sys
ok_ratio = float(sys.argv[1]) >= 0.5 * float(sys.argv[2])
ok_p99 = float(sys.argv[3]) < 20.0
print(('met' if ok_ratio and ok_p99 else 'NOT met')
      + ('' if ok_ratio else ': req/s below 50% of nginx')
      + ('' if ok_p99 else (',' if not ok_ratio else ':') + ' p99 >= 20 ms'))
" "$2" "$5" "$4")"
    ROWS+=("| $1 | $2 | $3 ms | $4 ms | $5 | $ratio |")
    VERDICTS+=("- $1: targets $verdict")
}

print_table() {
    echo "| target | req/s | p50 | p99 | nginx req/s (same size) | ratio |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Targets (req/s >= 50% of nginx, p99 < 20 ms):"
    printf '%s\n' "${VERDICTS[@]}"
}

# ---- static-only self-test --------------------------------------------------------------
if [[ -n "$STATIC_ONLY" ]]; then
    IFS=',' read -r -a sizes <<<"$STATIC_ONLY"
    for s in "${sizes[@]}"; do
        [[ "$s" =~ ^[0-9]+$ ]] || die "bad size: $s"
        make_static "static-$s.html" "$s"
    done
    start_nginx
    for s in "${sizes[@]}"; do
        bench_static "static-$s.html" "$s"
        f="$WORK/wrk-nginx-static-$s.html.txt"
        add_row "nginx static $s B" "$NGINX_RPS" "$(wrk_field "$f" p50)" "$(wrk_field "$f" p99)" "$NGINX_RPS"
    done
    echo
    print_table
    exit 0
fi

# ---- the server -------------------------------------------------------------------------
if [[ "$BUILD" == 1 ]]; then
    log "building: cargo build --release -p munishare"
    cargo build --release -p munishare
fi
[[ -x "$MUNISHARE_BIN" ]] || die "no server binary at $MUNISHARE_BIN"

port_free "$SERVER_ADDR" || die "$SERVER_ADDR is already in use"
export MUNISHARE_DEMO_PASSWORD="$DEMO_PASSWORD"
mkdir -p "$WORK/data"
log "starting $MUNISHARE_BIN serve on $SERVER_ADDR"
"$MUNISHARE_BIN" serve --data-dir "$WORK/data" --listen "$SERVER_ADDR" \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
if ! wait_http "http://$SERVER_ADDR/healthz" 120 "$SERVER_PID"; then
    tail -n 50 "$WORK/server.log" >&2 || true
    die "server did not become healthy on http://$SERVER_ADDR/healthz"
fi
log "server is healthy"

token_json="$(curl -s -X POST "http://$SERVER_ADDR/api/v1/auth/token" \
    -H 'content-type: application/json' \
    -d "{\"username\":\"clerk.hartford\",\"password\":\"$DEMO_PASSWORD\",\"town\":\"hartford\",\"service\":\"finance\",\"label\":\"bench\"}")"
TOKEN="$(printf '%s' "$token_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' 2>/dev/null)" ||
    die "could not obtain an API token; response was: $token_json"
AUTH=(-H "Authorization: Bearer $TOKEN")

API_PATH="/api/v1/towns/hartford/services"
SIGNIN_PATH="/signin"

status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[[ "$(status_of "${AUTH[@]}" "http://$SERVER_ADDR$API_PATH")" == 200 ]] || die "GET $API_PATH is not 200"
[[ "$(status_of "http://$SERVER_ADDR$SIGNIN_PATH")" == 200 ]] || die "GET $SIGNIN_PATH is not 200"
API_SIZE="$(curl -s -o /dev/null -w '%{size_download}' "${AUTH[@]}" "http://$SERVER_ADDR$API_PATH")"
SIGNIN_SIZE="$(curl -s -o /dev/null -w '%{size_download}' "http://$SERVER_ADDR$SIGNIN_PATH")"
log "body sizes: $API_PATH = $API_SIZE B, $SIGNIN_PATH = $SIGNIN_SIZE B"

run_wrk "$WORK/wrk-api.txt" "http://$SERVER_ADDR$API_PATH" "${AUTH[@]}"
run_wrk "$WORK/wrk-signin.txt" "http://$SERVER_ADDR$SIGNIN_PATH"

# Stop the server before the baseline so the two never compete for the 2 cores.
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

make_static api.json "$API_SIZE"
make_static signin.html "$SIGNIN_SIZE"
start_nginx
bench_static api.json "$API_SIZE"
NGINX_API_RPS="$NGINX_RPS"
bench_static signin.html "$SIGNIN_SIZE"
NGINX_SIGNIN_RPS="$NGINX_RPS"

add_row "GET $API_PATH (bearer, $API_SIZE B)" \
    "$(wrk_field "$WORK/wrk-api.txt" rps)" "$(wrk_field "$WORK/wrk-api.txt" p50)" \
    "$(wrk_field "$WORK/wrk-api.txt" p99)" "$NGINX_API_RPS"
add_row "GET $SIGNIN_PATH ($SIGNIN_SIZE B)" \
    "$(wrk_field "$WORK/wrk-signin.txt" rps)" "$(wrk_field "$WORK/wrk-signin.txt" p50)" \
    "$(wrk_field "$WORK/wrk-signin.txt" p99)" "$NGINX_SIGNIN_RPS"

TABLE="$(print_table)"
echo
echo "$TABLE"

if [[ "$WRITE" == 1 ]]; then
    cpu_model="$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)"
    git_rev="$(git rev-parse --short HEAD 2>/dev/null || echo 'no commit')"
    if [[ -n "$(git status --porcelain 2>/dev/null | head -n 1)" ]]; then git_rev="$git_rev (dirty)"; fi
    {
        echo
        echo "## $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
        echo
        echo "- machine: $(uname -srm), $(nproc) CPUs, ${cpu_model:-unknown CPU}"
        echo "- commit: $git_rev; wrk ${WRK_ARGS[*]}; nginx $("$NGINX_BIN" -v 2>&1 | sed 's/.*nginx\///')"
        echo
        echo "$TABLE"
    } >>"$OUT_DOC"
    log "appended results to $OUT_DOC"
fi
