defmodule Bench.Runner do
  @moduledoc """
  Runs one benchmark the way benchmarks.md asks: one full-size warm-up
  repetition that is discarded, then `BENCH_REPS` measured repetitions; prints
  the median of each figure on stdout as `metric value unit` and every
  repetition on stderr.

  A benchmark is a function taking a map of sizes and returning a list of
  `{metric, value, unit}` figures. Each size `:x` is read from the environment
  variable `BENCH_X`, with the default given here (benchmarks.md's).
  """

  alias Bench.{Messaging, Memory, Net, Scaling, Servers, Supervision, Tasks, TicketWorkflow}

  @benchmarks [
    {"spawn_exit", Messaging, :spawn_exit, n: 1_000_000},
    {"spawn_monitor_exit", Messaging, :spawn_monitor_exit, n: 1_000_000},
    {"ping_pong", Messaging, :ping_pong, m: 1_000_000},
    {"genserver_call", Servers, :genserver_call, n: 1_000_000},
    {"genserver_cast", Servers, :genserver_cast, n: 1_000_000},
    {"ring", Messaging, :ring, p: 1_000, h: 10_000_000},
    {"fork_join", Messaging, :fork_join, a: 60, m: 100_000},
    {"dynsup_start", Supervision, :dynsup_start, n: 100_000},
    {"dynsup_shutdown", Supervision, :dynsup_shutdown, n: 100_000},
    {"restart_latency", Supervision, :restart_latency, k: 10_000, c: 10},
    {"task_async_await", Tasks, :task_async_await, t: 100_000},
    {"idle_process_memory", Memory, :idle_process_memory, p: 100_000},
    {"ticket_workflow", TicketWorkflow, :ticket_workflow, t: 100_000},
    {"tcp_echo_rtt", Net, :tcp_echo_rtt, m: 100_000},
    {"tcp_echo_conns", Net, :tcp_echo_conns, c: 100, r: 2_000},
    {"tcp_accept_rate", Net, :tcp_accept_rate, n: 20_000, c: 8},
    {"tcp_idle_conn_bytes", Net, :tcp_idle_conn_bytes, p: 10_000},
    {"scaling_pairs", Scaling, :pairs, k: 256, n: 4_000_000},
    {"scaling_servers", Scaling, :servers, k: 256, n: 2_000_000},
    {"scaling_spawn", Scaling, :spawners, k: 256, n: 2_000_000}
  ]

  @doc "Runs the command line; returns the exit status."
  def main(["--list"]) do
    Enum.each(@benchmarks, fn {name, _, _, _} -> IO.puts(name) end)
    0
  end

  def main([name]) do
    case List.keyfind(@benchmarks, name, 0) do
      {^name, module, function, defaults} ->
        run(name, fn sizes -> apply(module, function, [sizes]) end, sizes(defaults))
        0

      nil ->
        IO.puts(:stderr, "unknown benchmark: #{name} (--list names them)")
        2
    end
  end

  def main(_) do
    IO.puts(:stderr, "usage: elixir bench/beam/bench.exs NAME | --list")
    2
  end

  defp run(name, benchmark, sizes) do
    reps = max(1, env_integer("BENCH_REPS", 5))
    warn_if_process_limit_low()

    settings = Enum.map_join(sizes, " ", fn {key, value} -> "#{variable(key)}=#{value}" end)
    schedulers = :erlang.system_info(:schedulers_online)
    IO.puts(:stderr, "#{name}: #{settings} BENCH_REPS=#{reps} schedulers=#{schedulers}")

    report(:stderr, "warm-up", repetition(benchmark, sizes))

    measured =
      for rep <- 1..reps do
        figures = repetition(benchmark, sizes)
        report(:stderr, "rep #{rep}", figures)
        figures
      end

    medians =
      for {metric, _, unit} <- hd(measured) do
        values = for figures <- measured, {^metric, value, _} <- figures, do: value
        {metric, median(values), unit}
      end

    report(:stdio, nil, medians)
  end

  # One repetition, after which every process it started has exited.
  defp repetition(benchmark, sizes) do
    alive_before = :erlang.system_info(:process_count)
    figures = benchmark.(sizes)
    Bench.await_process_count(alive_before)
    figures
  end

  defp report(device, label, figures) do
    for {metric, value, unit} <- figures do
      prefix = if label, do: "#{label}: ", else: ""
      IO.puts(device, "#{prefix}#{metric} #{format(value)} #{unit}")
    end
  end

  defp sizes(defaults) do
    Map.new(defaults, fn {key, default} -> {key, env_integer(variable(key), default)} end)
  end

  defp variable(key), do: "BENCH_" <> String.upcase(Atom.to_string(key))

  # Accepts 1000000, 1_000_000 and 1,000,000.
  defp env_integer(variable, default) do
    case System.get_env(variable) do
      nil -> default
      text -> text |> String.replace(["_", ","], "") |> String.to_integer()
    end
  end

  defp median(values) do
    sorted = Enum.sort(values)
    middle = div(length(sorted), 2)

    if rem(length(sorted), 2) == 1,
      do: Enum.at(sorted, middle),
      else: (Enum.at(sorted, middle - 1) + Enum.at(sorted, middle)) / 2
  end

  # Whole numbers from 100 up, three significant digits below.
  defp format(value) when value >= 100, do: Integer.to_string(round(value))
  defp format(value) when value >= 10, do: :erlang.float_to_binary(value / 1, decimals: 1)
  defp format(value), do: :erlang.float_to_binary(value / 1, decimals: 2)

  defp warn_if_process_limit_low do
    limit = :erlang.system_info(:process_limit)

    if limit < 2_000_000 do
      IO.puts(
        :stderr,
        "warning: process limit #{limit}; run with --erl \"+P 5000000\" for full sizes"
      )
    end
  end
end
