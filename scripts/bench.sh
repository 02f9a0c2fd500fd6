#!/usr/bin/env bash
# The `make bench` driver: runs Arbor's benchmarks and their BEAM
# counterparts interleaved in one run, and prints, per figure, Arbor's median,
# the BEAM's median, the ratio Arbor/BEAM and which side is better.
# Definitions: docs/performance.md, "Definitions".
#
#   scripts/bench.sh [NAME...]            the benchmarks (default: all of them)
#   scripts/bench.sh --scaling [NAME...]  the scaling probes (default: all three)
#                                         at each scheduler count in
#                                         BENCH_SCHEDULERS
#
# For each benchmark it runs `arbor-bench NAME`, then, when `elixir` is on the
# PATH, `elixir bench/beam/bench.exs NAME`, both in the same environment, so
# BENCH_REPS and the BENCH_* sizes apply to both. fork_join also runs on the
# BEAM with one scheduler (ERL_FLAGS="+S 1"), reported as fork_join_1sched,
# since docs/performance.md sets Arbor's target against that figure. A side that is
# missing, lacks the benchmark or fails shows "-" and the run goes on.
#
# Environment:
#   ARBOR_BENCH       the C binary (default: build/release/bin/arbor-bench, as make builds it)
#   BENCH_SCHEDULERS  scheduler counts for --scaling (default: "1 2"); the C
#                     side gets --schedulers N, the BEAM +S N; metrics are
#                     suffixed _<N>sched
#   BENCH_REPS, BENCH_N, BENCH_M, ...  passed through to both sides
#
# Output: the table on stdout; in build/bench/, the table as markdown
# (results.md, or results-scaling.md), the raw `side metric value unit` lines
# (raw.txt, or raw-scaling.txt) and each run's stderr (logs/).

set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
arbor_bench=${ARBOR_BENCH:-$root/build/release/bin/arbor-bench}
beam_script=$root/bench/beam/bench.exs
# A million processes need more than the BEAM's default limit of about one
# million.
beam_erl_flags="+P 5000000"
out_dir=$root/build/bench

benchmarks=(spawn_exit spawn_monitor_exit ping_pong genserver_call genserver_cast
  ring fork_join dynsup_start dynsup_shutdown restart_latency task_async_await
  idle_process_memory ticket_workflow desk_list desk_history tcp_echo_rtt tcp_echo_conns tcp_accept_rate
  tcp_idle_conn_bytes desk_http)
scaling_probes=(scaling_pairs scaling_servers scaling_spawn)

usage() {
  sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

scaling=false
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --scaling) scaling=true; shift ;;
esac

if $scaling; then
  names=("${scaling_probes[@]}")
  results_md=$out_dir/results-scaling.md
  raw_txt=$out_dir/raw-scaling.txt
else
  names=("${benchmarks[@]}")
  results_md=$out_dir/results.md
  raw_txt=$out_dir/raw.txt
fi
if (($# > 0)); then
  names=("$@")
fi

mkdir -p "$out_dir/logs"
: >"$raw_txt"

have_arbor=true
if [[ ! -x $arbor_bench ]]; then
  echo "bench: $arbor_bench not found; Arbor's column will be empty (build it first)" >&2
  have_arbor=false
fi
have_beam=true
if ! command -v elixir >/dev/null; then
  echo "bench: elixir not on PATH; the BEAM's column will be empty" >&2
  have_beam=false
fi

declare -A arbor_value=() beam_value=() arbor_unit=() beam_unit=()
metrics=() # in the order first seen

record() { # side metric value unit
  local side=$1 metric=$2 value=$3 unit=$4
  if [[ -z ${arbor_unit[$metric]:-}${beam_unit[$metric]:-} ]]; then
    metrics+=("$metric")
  fi
  if [[ $side == arbor ]]; then
    arbor_value[$metric]=$value arbor_unit[$metric]=$unit
  else
    beam_value[$metric]=$value beam_unit[$metric]=$unit
  fi
  echo "$side $metric $value $unit" >>"$raw_txt"
}

# collect SIDE LABEL SUFFIX COMMAND...: runs COMMAND, keeps its stderr in
# logs/LABEL.SIDE.log and records its `metric value unit` lines, each metric
# name followed by SUFFIX. A failed run, or one whose stderr says the
# benchmark is unknown, records nothing.
collect() {
  local side=$1 label=$2 suffix=$3
  shift 3
  local log=$out_dir/logs/$label.$side.log stdout rc=0
  echo "== $label: $side" >&2
  stdout=$("$@" 2>"$log") || rc=$?
  if ((rc != 0)) || grep -qi 'unknown benchmark' "$log"; then
    echo "   $side: no figures (exit status $rc; see ${log#"$root"/})" >&2
    tail -n 3 "$log" | sed 's/^/   | /' >&2
    return 0
  fi
  local metric value unit extra
  while read -r metric value unit extra; do
    if [[ $metric =~ ^[A-Za-z0-9_]+$ && $value =~ ^[-+0-9.eE]+$ && -n $unit && -z $extra ]]; then
      record "$side" "$metric$suffix" "$value" "$unit"
      echo "   $metric$suffix $value $unit" >&2
    fi
  done <<<"$stdout"
}

run_arbor() { # label suffix args...
  local label=$1 suffix=$2
  shift 2
  if $have_arbor; then
    collect arbor "$label" "$suffix" "$arbor_bench" "$@"
  fi
}

run_beam() { # label suffix extra-erl-flags name
  local label=$1 suffix=$2 flags=$3 name=$4
  if $have_beam; then
    collect beam "$label" "$suffix" elixir --erl "$beam_erl_flags $flags" "$beam_script" "$name"
  fi
}

cd "$root"
if $scaling; then
  for schedulers in ${BENCH_SCHEDULERS:-1 2}; do
    for name in "${names[@]}"; do
      run_arbor "${name}_${schedulers}sched" "_${schedulers}sched" --schedulers "$schedulers" "$name"
      run_beam "${name}_${schedulers}sched" "_${schedulers}sched" "+S $schedulers" "$name"
    done
  done
else
  for name in "${names[@]}"; do
    run_arbor "$name" "" "$name"
    run_beam "$name" "" "" "$name"
    if [[ $name == fork_join ]]; then
      ERL_FLAGS="${ERL_FLAGS:+$ERL_FLAGS }+S 1" run_beam fork_join_1sched _1sched "" fork_join
    fi
  done
fi

# docs/performance.md compares Arbor's fork_join with the BEAM's one-scheduler
# figure; unless the C side reports a fork_join_1sched of its own, that row
# pairs the two.
notes=()
if [[ -n ${beam_value[fork_join_1sched]:-} && -z ${arbor_value[fork_join_1sched]:-} &&
  -n ${arbor_value[fork_join]:-} ]]; then
  arbor_value[fork_join_1sched]=${arbor_value[fork_join]}
  arbor_unit[fork_join_1sched]=${arbor_unit[fork_join]}
  notes+=("fork_join_1sched: Arbor's column is its fork_join figure, against the BEAM with one scheduler (ERL_FLAGS=\"+S 1\").")
fi

ratio() { # a b
  awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.3g\n", a / b }'
}

# better UNIT RATIO: which side wins, given whether the unit is a cost (time,
# bytes: lower is better) or a rate (per second: higher is better).
better() {
  local unit=$1 r=$2 direction
  case $unit in
    ns | us | ms | s | bytes) direction=lower ;;
    */s) direction=higher ;;
    *) echo "?"; return ;;
  esac
  awk -v r="$r" -v d="$direction" 'BEGIN {
    if (r == 1) print "tie"
    else if ((r < 1) == (d == "lower")) print "Arbor"
    else print "BEAM" }'
}

header=(metric "Arbor median" "BEAM median" unit "ratio Arbor/BEAM" better)
rows=()
for metric in "${metrics[@]}"; do
  a=${arbor_value[$metric]:--} b=${beam_value[$metric]:--}
  unit=${arbor_unit[$metric]:-${beam_unit[$metric]}}
  r=- winner=-
  if [[ $a != - && $b != - ]]; then
    if [[ ${arbor_unit[$metric]} != "${beam_unit[$metric]}" ]]; then
      unit="${arbor_unit[$metric]} vs ${beam_unit[$metric]}"
    else
      r=$(ratio "$a" "$b")
      [[ $r != - ]] && winner=$(better "$unit" "$r")
    fi
  fi
  rows+=("$metric|$a|$b|$unit|$r|$winner")
done

print_table() {
  local format="%-34s %14s %14s %-10s %16s %s\n" row
  # shellcheck disable=SC2059 # the format is ours
  printf "$format" "${header[@]}"
  for row in "${rows[@]}"; do
    IFS='|' read -r -a fields <<<"$row"
    # shellcheck disable=SC2059
    printf "$format" "${fields[@]}"
  done
}

write_markdown() {
  local row
  echo "# Benchmarks: Arbor and the BEAM"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -srm), $(nproc) cores," \
    "BENCH_REPS=${BENCH_REPS:-5}$(env | grep -E '^BENCH_[A-Z]+=' | grep -v '^BENCH_REPS=' | sort | sed 's/^/, /' | tr -d '\n')."
  if $have_beam; then
    echo "BEAM: $(elixir --version 2>/dev/null | grep -E '^(Erlang|Elixir)' | paste -sd ';' | sed 's/;/; /')"
  fi
  echo
  echo "| ${header[0]} | ${header[1]} | ${header[2]} | ${header[3]} | ${header[4]} | ${header[5]} |"
  echo "|---|---:|---:|---|---:|---|"
  for row in "${rows[@]}"; do
    echo "| ${row//|/ | } |"
  done
  for note in "${notes[@]}"; do
    echo
    echo "$note"
  done
}

echo
print_table
for note in "${notes[@]}"; do
  echo "$note"
done
write_markdown >"$results_md"
echo
echo "written: ${results_md#"$root"/}, ${raw_txt#"$root"/}"
