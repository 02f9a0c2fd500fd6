#!/usr/bin/env bash
# The `make bench-http` driver: examples/http_hello against two peers that
# answer the same endpoint (GET /plaintext, "Hello, World!"): nginx
# (`return 200`) and Go's net/http (bench/go_hello/main.go, built here),
# with 1 and with 2 workers (Arbor: --schedulers N, nginx: worker_processes
# N, Go: GOMAXPROCS N), interleaved (each repetition runs every server once,
# in turn), on loopback, two ways:
#   - keep-alive: wrk -t1 -c64 --latency (requests/s and p99 latency);
#   - a connection per request: ab -c 32 without -k (requests/s).
# Prints, per worker count, the medians and Arbor's ratios to each peer.
#
# With 1 worker the server is pinned to CPU 0 and the client to CPU 1
# (taskset); with 2 workers neither is pinned (on a 2-core machine the
# client then competes with the server, for every server alike). Keep the
# machine otherwise quiet: these are comparisons made in one run, not
# absolute figures.
#
# Environment:
#   HTTP_HELLO           the server (default: build/release/bin/http_hello)
#   BENCH_HTTP_REPS      repetitions (default 3)
#   BENCH_HTTP_SECONDS   seconds per run (default 5)
#   BENCH_HTTP_CONNS     wrk connections (default 64), one wrk thread
#   BENCH_HTTP_AB_CONNS  ab's concurrency (default 32)
#
# Needs wrk, nginx, ab and go (Debian: wrk, nginx-light, apache2-utils,
# golang-go; `make bench-http` installs them); says so and exits 77 when
# one is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

HELLO=${HTTP_HELLO:-build/release/bin/http_hello}
REPS=${BENCH_HTTP_REPS:-3}
SECONDS_PER_RUN=${BENCH_HTTP_SECONDS:-5}
CONNS=${BENCH_HTTP_CONNS:-64}
AB_CONNS=${BENCH_HTTP_AB_CONNS:-32}
SERVERS=(arbor nginx go)

for tool in wrk nginx ab go; do
    if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
        echo "bench-http: $tool is not installed (Debian: apt-get install wrk nginx-light" \
            "apache2-utils golang-go)" >&2
        exit 77
    fi
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$HELLO" ] || { echo "bench-http: $HELLO is missing (make)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/go_hello" bench/go_hello/main.go

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until something answers on port.
wait_port() {
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/plaintext" && return 0
        sleep 0.05
    done
    echo "bench-http: nothing answers on port $1" >&2
    exit 1
}

# Starts the three servers for `workers`; sets arbor_port, nginx_port and
# go_port.
start_servers() {
    local workers=$1 pin=()
    [ "$workers" = 1 ] && pin=(taskset -c 0)
    arbor_port=$(free_port)
    "${pin[@]}" "$HELLO" --port "$arbor_port" --schedulers "$workers" >"$work/arbor.log" 2>&1 &
    pids+=($!)
    go_port=$(free_port)
    "${pin[@]}" "$work/go_hello" -port "$go_port" -procs "$workers" >"$work/go.log" 2>&1 &
    pids+=($!)
    nginx_port=$(free_port)
    mkdir -p "$work/nginx$workers"
    cat >"$work/nginx$workers/nginx.conf" <<EOF
daemon off;
worker_processes $workers;
pid $work/nginx$workers/nginx.pid;
error_log $work/nginx$workers/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx$workers;
    proxy_temp_path $work/nginx$workers;
    fastcgi_temp_path $work/nginx$workers;
    uwsgi_temp_path $work/nginx$workers;
    scgi_temp_path $work/nginx$workers;
    server {
        listen 127.0.0.1:$nginx_port;
        keepalive_requests 1000000;
        location /plaintext { default_type text/plain; return 200 "Hello, World!"; }
    }
}
EOF
    "${pin[@]}" "$NGINX" -p "$work/nginx$workers" -c "$work/nginx$workers/nginx.conf" \
        >"$work/nginx$workers/out.log" 2>&1 &
    pids+=($!)
    wait_port "$arbor_port"
    wait_port "$nginx_port"
    wait_port "$go_port"
}

# Runs wrk once (keep-alive); prints "requests_per_s p99_ms".
run_wrk() {
    local port=$1 workers=$2 pin=()
    [ "$workers" = 1 ] && pin=(taskset -c 1)
    "${pin[@]}" wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency \
        "http://127.0.0.1:$port/plaintext" >"$work/wrk.out" 2>&1
    python3 - "$work/wrk.out" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", text)
if errors:
    sys.stderr.write("bench-http: wrk reported: %s\n" % errors.group(0))
print("%.0f %.3f" % (rps, p99))
EOF
}

# Runs ab once (a connection per request, HTTP/1.0 without keep-alive);
# prints "requests_per_s".
run_ab() {
    local port=$1 workers=$2 pin=()
    [ "$workers" = 1 ] && pin=(taskset -c 1)
    "${pin[@]}" ab -q -c "$AB_CONNS" -t "$SECONDS_PER_RUN" -n 10000000 \
        "http://127.0.0.1:$port/plaintext" >"$work/ab.out" 2>&1 || true
    python3 - "$work/ab.out" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"Requests per second:\s*([\d.]+)", text)
if not m:
    sys.stderr.write("bench-http: ab failed:\n" + text[-2000:])
    sys.exit(1)
failed = re.search(r"Failed requests:\s*(\d+)", text)
if failed and int(failed.group(1)):
    sys.stderr.write("bench-http: ab reported %s failed requests\n" % failed.group(1))
print("%.0f" % float(m.group(1)))
EOF
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# med FILE FIELD: the median of one column of FILE.
med() { cut -d' ' -f"$2" "$1" | median; }

for workers in 1 2; do
    start_servers "$workers"
    for server in "${SERVERS[@]}"; do
        : >"$work/$server$workers.wrk"
        : >"$work/$server$workers.ab"
    done
    for rep in $(seq 1 "$REPS"); do
        for server in "${SERVERS[@]}"; do
            port_var=${server}_port
            run_wrk "${!port_var}" "$workers" >>"$work/$server$workers.wrk"
        done
        for server in "${SERVERS[@]}"; do
            port_var=${server}_port
            run_ab "${!port_var}" "$workers" >>"$work/$server$workers.ab"
        done
        line="  rep $rep/$REPS, $workers worker(s); keep-alive req/s p99_ms:"
        for server in "${SERVERS[@]}"; do line+=" $server $(tail -1 "$work/$server$workers.wrk"),"; done
        line+=" a connection per request req/s:"
        for server in "${SERVERS[@]}"; do line+=" $server $(tail -1 "$work/$server$workers.ab")"; done
        echo "$line" >&2
    done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
done

printf '\nKeep-alive: wrk -t1 -c%s, %s s x %s, GET /plaintext; medians\n\n' "$CONNS" \
    "$SECONDS_PER_RUN" "$REPS"
printf '| workers | Arbor req/s | nginx req/s | Go req/s | Arbor/nginx | Arbor/Go |'
printf ' Arbor p99 ms | nginx p99 ms | Go p99 ms |\n|---|---|---|---|---|---|---|---|---|\n'
for workers in 1 2; do
    awk -v w="$workers" -v ar="$(med "$work/arbor$workers.wrk" 1)" \
        -v nr="$(med "$work/nginx$workers.wrk" 1)" -v gr="$(med "$work/go$workers.wrk" 1)" \
        -v ap="$(med "$work/arbor$workers.wrk" 2)" -v np="$(med "$work/nginx$workers.wrk" 2)" \
        -v gp="$(med "$work/go$workers.wrk" 2)" 'BEGIN {
        printf "| %s | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
            w, ar, nr, gr, ar / nr, ar / gr, ap, np, gp }'
done

printf '\nA connection per request: ab -c %s, %s s x %s, GET /plaintext; medians\n\n' \
    "$AB_CONNS" "$SECONDS_PER_RUN" "$REPS"
printf '| workers | Arbor req/s | nginx req/s | Go req/s | Arbor/nginx | Arbor/Go |\n'
printf '|---|---|---|---|---|---|\n'
for workers in 1 2; do
    awk -v w="$workers" -v ar="$(median <"$work/arbor$workers.ab")" \
        -v nr="$(median <"$work/nginx$workers.ab")" -v gr="$(median <"$work/go$workers.ab")" 'BEGIN {
        printf "| %s | %.0f | %.0f | %.0f | %.2f | %.2f |\n", w, ar, nr, gr, ar / nr, ar / gr }'
done
