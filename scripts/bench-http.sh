#!/usr/bin/env bash
# The `make bench-http` driver: wrk against examples/http_hello and against
# nginx answering the same endpoint (`return 200 "Hello, World!"`), with 1
# and with 2 workers (Arbor: --schedulers N, nginx: worker_processes N),
# interleaved (each repetition runs every configuration once, in turn), on
# loopback. Prints, per worker count, the medians of requests/s and p99
# latency for both servers and the ratio Arbor/nginx.
#
# With 1 worker the server is pinned to CPU 0 and wrk to CPU 1 (taskset);
# with 2 workers neither is pinned (on a 2-core machine wrk then competes
# with the server, for both servers alike). Keep the machine otherwise quiet:
# these are comparisons made in one run, not absolute figures.
#
# Environment:
#   HTTP_HELLO          the server (default: build/release/bin/http_hello)
#   BENCH_HTTP_REPS     repetitions (default 3)
#   BENCH_HTTP_SECONDS  seconds per wrk run (default 5)
#   BENCH_HTTP_CONNS    wrk connections (default 64), one wrk thread
#
# Needs wrk and nginx (Debian: wrk, nginx-light); says so and exits 77 when
# either is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

HELLO=${HTTP_HELLO:-build/release/bin/http_hello}
REPS=${BENCH_HTTP_REPS:-3}
SECONDS_PER_RUN=${BENCH_HTTP_SECONDS:-5}
CONNS=${BENCH_HTTP_CONNS:-64}

for tool in wrk nginx; do
    if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
        echo "bench-http: $tool is not installed (Debian: apt-get install wrk nginx-light)" >&2
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

# Starts both servers for `workers`; sets arbor_port and nginx_port.
start_servers() {
    local workers=$1 pin=()
    [ "$workers" = 1 ] && pin=(taskset -c 0)
    arbor_port=$(free_port)
    "${pin[@]}" "$HELLO" --port "$arbor_port" --schedulers "$workers" >"$work/arbor.log" 2>&1 &
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
}

# Runs wrk once; prints "requests_per_s p99_ms".
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

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for workers in 1 2; do
    start_servers "$workers"
    : >"$work/arbor$workers.txt"
    : >"$work/nginx$workers.txt"
    for rep in $(seq 1 "$REPS"); do
        run_wrk "$arbor_port" "$workers" >>"$work/arbor$workers.txt"
        run_wrk "$nginx_port" "$workers" >>"$work/nginx$workers.txt"
        echo "  rep $rep/$REPS, $workers worker(s): arbor $(tail -1 "$work/arbor$workers.txt")," \
            "nginx $(tail -1 "$work/nginx$workers.txt") (req/s p99_ms)" >&2
    done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
done

printf '\nwrk -t1 -c%s, %s s x %s, GET /plaintext, keep-alive; medians\n\n' "$CONNS" \
    "$SECONDS_PER_RUN" "$REPS"
printf '| workers | Arbor req/s | nginx req/s | Arbor/nginx | Arbor p99 ms | nginx p99 ms | Arbor/nginx |\n'
printf '|---|---|---|---|---|---|---|\n'
for workers in 1 2; do
    ar=$(cut -d' ' -f1 "$work/arbor$workers.txt" | median)
    nr=$(cut -d' ' -f1 "$work/nginx$workers.txt" | median)
    ap=$(cut -d' ' -f2 "$work/arbor$workers.txt" | median)
    np=$(cut -d' ' -f2 "$work/nginx$workers.txt" | median)
    awk -v w="$workers" -v ar="$ar" -v nr="$nr" -v ap="$ap" -v np="$np" 'BEGIN {
        printf "| %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f |\n", w, ar, nr, ar / nr, ap, np, ap / np }'
done
