defmodule Bench do
  @moduledoc """
  Helpers shared by the benchmarks: timing, stopping processes, and reading
  memory once it has settled.
  """

  @doc "Runs `fun` and returns `{elapsed_nanoseconds, result}`."
  def time(fun) do
    started = :erlang.monotonic_time(:nanosecond)
    result = fun.()
    {:erlang.monotonic_time(:nanosecond) - started, result}
  end

  @doc """
  Sends `pid` an exit signal with `reason` and returns once it has exited.
  """
  def stop(pid, reason) do
    ref = Process.monitor(pid)
    Process.exit(pid, reason)

    receive do
      {:DOWN, ^ref, :process, ^pid, _} -> :ok
    end
  end

  @doc """
  Starts a supervisor with `start_fun` and unlinks it from the caller, so that
  stopping it later does not take the caller down. The caller stays its
  parent, so an exit signal from the caller still shuts it down in order.
  """
  def start_unlinked(start_fun) do
    {:ok, pid} = start_fun.()
    Process.unlink(pid)
    pid
  end

  # Two readings this close (in bytes) count as the same.
  @memory_tolerance 16 * 1024
  @memory_poll_ms 50
  @memory_polls 40

  @doc """
  Returns `:erlang.memory(:total)` once two readings #{@memory_poll_ms} ms
  apart agree within #{@memory_tolerance} bytes (or after
  #{@memory_polls} tries), after collecting the caller's own garbage so that
  it does not count.
  """
  def stable_memory do
    :erlang.garbage_collect()
    settle_memory(:erlang.memory(:total), @memory_polls)
  end

  defp settle_memory(previous, 0), do: previous

  defp settle_memory(previous, polls_left) do
    Process.sleep(@memory_poll_ms)
    current = :erlang.memory(:total)

    if abs(current - previous) <= @memory_tolerance,
      do: current,
      else: settle_memory(current, polls_left - 1)
  end

  @doc """
  Waits until no more than `count` processes are alive, so that one
  repetition's processes are gone before the next starts. Gives up, with a
  warning, after `timeout_ms`.
  """
  def await_process_count(count, timeout_ms \\ 60_000) do
    deadline = :erlang.monotonic_time(:millisecond) + timeout_ms
    poll_process_count(count, deadline)
  end

  defp poll_process_count(count, deadline) do
    alive = :erlang.system_info(:process_count)

    cond do
      alive <= count ->
        :ok

      :erlang.monotonic_time(:millisecond) > deadline ->
        IO.puts(:stderr, "warning: #{alive - count} processes outlived their repetition")

      true ->
        Process.sleep(10)
        poll_process_count(count, deadline)
    end
  end
end
