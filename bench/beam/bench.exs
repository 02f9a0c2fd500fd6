# The BEAM side of Arbor's benchmarks (definitions: benchmarks.md).
#
#     elixir --erl "+P 5000000" bench/beam/bench.exs NAME
#     elixir bench/beam/bench.exs --list
#
# Runs benchmark NAME once at full size as a discarded warm-up, then
# BENCH_REPS measured repetitions; prints the median of each figure on stdout
# as `metric value unit` lines and every repetition's figures on stderr.
# `+P 5000000` lets a million processes live at once (the default limit is
# about one million); scheduler flags such as `+S 1` may be added the same way
# or through ERL_FLAGS.
#
# Sizes come from the environment; a benchmark reads only the ones it uses:
#
#   BENCH_REPS  measured repetitions                                       5
#   BENCH_N     spawn_exit, spawn_monitor_exit: processes                  1,000,000
#               genserver_call, genserver_cast: calls or casts             1,000,000
#               dynsup_start: children                                       100,000
#               dynsup_shutdown: children of the larger supervisor           100,000
#                 (the smaller one holds BENCH_N / 10; the metrics keep
#                 their names _100k and _10k whatever the sizes)
#               scaling_pairs: round trips in all                          4,000,000
#               scaling_servers: calls in all                              2,000,000
#               scaling_spawn: processes in all                            2,000,000
#   BENCH_M     ping_pong: round trips                                     1,000,000
#               fork_join: rounds                                            100,000
#   BENCH_P     ring: processes in the ring                                    1,000
#               idle_process_memory: idle processes                          100,000
#   BENCH_H     ring: hops                                                10,000,000
#   BENCH_A     fork_join: receivers                                              60
#   BENCH_K     restart_latency: restarts                                     10,000
#               scaling_*: independent units                                     256
#   BENCH_C     restart_latency: children of the one_for_all supervisor          10
#   BENCH_T     task_async_await: tasks                                      100,000
#               ticket_workflow: tickets                                     100,000
#   BENCH_M     tcp_echo_rtt: round trips (ping_pong's 1,000,000 aside)      100,000
#   BENCH_C     tcp_echo_conns: connections                                      100
#               tcp_accept_rate: clients                                           8
#   BENCH_R     tcp_echo_conns: round trips per connection                     2,000
#   BENCH_N     tcp_accept_rate: connections                                  20,000
#   BENCH_P     tcp_idle_conn_bytes: open connections                         10,000
#
# The benchmarks are compiled modules under lib/; this script only loads them
# and hands over the command line.

{:ok, _modules, _warnings} =
  __DIR__
  |> Path.join("lib/**/*.ex")
  |> Path.wildcard()
  |> Enum.sort()
  |> Kernel.ParallelCompiler.require()

System.argv() |> Bench.Runner.main() |> System.halt()
