defmodule Bench.Messaging do
  @moduledoc """
  Plain processes and messages: spawn_exit, spawn_monitor_exit, ping_pong,
  ring and fork_join. Every loop is a tail-recursive function so that the
  timed work is only spawns, sends and receives.
  """

  ## spawn_exit

  @doc """
  Spawns `n` processes in a tight loop; each decrements a shared atomic
  counter and exits, and the one that brings it to zero tells the parent.
  Timed from the first spawn until the parent hears that. ns per process.
  """
  def spawn_exit(%{n: n}) do
    counter = :atomics.new(1, signed: true)
    :atomics.put(counter, 1, n)

    {elapsed, :ok} =
      Bench.time(fn ->
        spawn_counting_down(self(), counter, n)

        receive do
          :all_exited -> :ok
        end
      end)

    [{"spawn_exit", elapsed / n, "ns"}]
  end

  defp spawn_counting_down(_parent, _counter, 0), do: :ok

  defp spawn_counting_down(parent, counter, left) do
    spawn(fn ->
      if :atomics.sub_get(counter, 1, 1) == 0, do: send(parent, :all_exited)
    end)

    spawn_counting_down(parent, counter, left - 1)
  end

  ## spawn_monitor_exit

  @doc """
  Spawns and monitors `n` empty processes, then receives all `n` DOWN
  messages. ns per process.
  """
  def spawn_monitor_exit(%{n: n}) do
    {elapsed, :ok} =
      Bench.time(fn ->
        spawn_monitored(n)
        receive_downs(n)
      end)

    [{"spawn_monitor_exit", elapsed / n, "ns"}]
  end

  defp spawn_monitored(0), do: :ok

  defp spawn_monitored(left) do
    spawn_monitor(fn -> :ok end)
    spawn_monitored(left - 1)
  end

  defp receive_downs(0), do: :ok

  defp receive_downs(left) do
    receive do
      {:DOWN, _ref, :process, _pid, _reason} -> receive_downs(left - 1)
    end
  end

  ## ping_pong

  @doc """
  Sends `{:ping, self()}` to one partner and waits for `:pong`, `m` times.
  ns per round trip.
  """
  def ping_pong(%{m: m}) do
    partner = spawn(&pong/0)
    {elapsed, :ok} = Bench.time(fn -> ping(partner, self(), m) end)
    send(partner, :stop)
    [{"ping_pong", elapsed / m, "ns"}]
  end

  @doc """
  Pings `partner` (running `pong/0`) `left` times, waiting for each pong;
  `me` is the caller's pid. Shared with scaling_pairs.
  """
  def ping(_partner, _me, 0), do: :ok

  def ping(partner, me, left) do
    send(partner, {:ping, me})

    receive do
      :pong -> ping(partner, me, left - 1)
    end
  end

  @doc "Answers each `{:ping, from}` with `:pong` until told `:stop`."
  def pong do
    receive do
      {:ping, from} ->
        send(from, :pong)
        pong()

      :stop ->
        :ok
    end
  end

  ## ring

  @doc """
  `p` processes in a ring pass an integer token that counts down, `h` hops in
  all (Savina ThreadRing); the process that receives 0 tells the caller.
  ns per hop.
  """
  def ring(%{p: p, h: h}) do
    me = self()
    nodes = for _ <- 1..p, do: spawn(fn -> await_next(me) end)
    for {node, next} <- Enum.zip(nodes, tl(nodes) ++ [hd(nodes)]), do: send(node, {:next, next})

    {elapsed, :ok} =
      Bench.time(fn ->
        send(hd(nodes), h)

        receive do
          :token_spent -> :ok
        end
      end)

    send(hd(nodes), :stop)
    [{"ring", elapsed / h, "ns"}]
  end

  defp await_next(caller) do
    receive do
      {:next, next} -> ring_node(next, caller)
    end
  end

  defp ring_node(next, caller) do
    receive do
      0 ->
        send(caller, :token_spent)
        ring_node(next, caller)

      hops_left when is_integer(hops_left) ->
        send(next, hops_left - 1)
        ring_node(next, caller)

      # Each node passes :stop on once; the last one sends it to the first,
      # which has already gone, and that is harmless.
      :stop ->
        send(next, :stop)
    end
  end

  ## fork_join

  @doc """
  One sender (the caller) sends `m` rounds of one message to each of `a`
  receivers, in the same order every round, with no payload and no
  back-pressure; each receiver counts to `m` and reports (Savina Fork-Join
  throughput, without its arithmetic). Messages per second.
  """
  def fork_join(%{a: a, m: m}) do
    me = self()
    receivers = for _ <- 1..a, do: spawn(fn -> count_messages(me, m) end)

    {elapsed, :ok} =
      Bench.time(fn ->
        send_rounds(receivers, m)
        await_joins(a)
      end)

    [{"fork_join", a * m / (elapsed / 1.0e9), "msgs/s"}]
  end

  defp send_rounds(_receivers, 0), do: :ok

  defp send_rounds(receivers, rounds_left) do
    send_to_each(receivers)
    send_rounds(receivers, rounds_left - 1)
  end

  defp send_to_each([]), do: :ok

  defp send_to_each([receiver | rest]) do
    send(receiver, :message)
    send_to_each(rest)
  end

  defp count_messages(sender, 0), do: send(sender, :joined)

  defp count_messages(sender, left) do
    receive do
      :message -> count_messages(sender, left - 1)
    end
  end

  defp await_joins(0), do: :ok

  defp await_joins(left) do
    receive do
      :joined -> await_joins(left - 1)
    end
  end
end
