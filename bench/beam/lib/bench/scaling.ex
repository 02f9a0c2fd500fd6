defmodule Bench.Scaling do
  @moduledoc """
  The scaling probes: `k` independent units of work, `n` operations in all,
  meant to be run with different scheduler counts (`+S N`). Each unit is a
  process that waits for `:go`, does its share and reports; the figure is
  operations per second from the first `:go` until the last report.
  """

  alias Bench.{Messaging, Servers}
  alias Bench.Servers.Counter

  @doc "`k` ping-pong pairs, `n` round trips in all. Round trips per second."
  def pairs(%{k: k, n: n}) do
    per_unit = div(n, k)
    partners = for _ <- 1..k, do: spawn(&Messaging.pong/0)
    works = for partner <- partners, do: fn -> Messaging.ping(partner, self(), per_unit) end
    rate = ops_per_second(works, per_unit)
    Enum.each(partners, &send(&1, :stop))
    [{"scaling_pairs", rate, "ops/s"}]
  end

  @doc "`k` clients, each calling its own GenServer, `n` calls in all. Calls per second."
  def servers(%{k: k, n: n}) do
    per_unit = div(n, k)

    servers =
      for _ <- 1..k do
        {:ok, server} = GenServer.start(Counter, 0)
        server
      end

    works = for server <- servers, do: fn -> Servers.call_inc(server, per_unit) end
    rate = ops_per_second(works, per_unit)
    Enum.each(servers, &GenServer.stop/1)
    [{"scaling_servers", rate, "ops/s"}]
  end

  @doc """
  `k` spawners, each spawning `n / k` processes that message it back and
  exit. Processes per second.
  """
  def spawners(%{k: k, n: n}) do
    per_unit = div(n, k)
    rate = ops_per_second(List.duplicate(fn -> spawn_and_hear_back(per_unit) end, k), per_unit)
    [{"scaling_spawn", rate, "ops/s"}]
  end

  defp spawn_and_hear_back(count) do
    spawn_greeters(self(), count)
    await_greetings(count)
  end

  defp spawn_greeters(_parent, 0), do: :ok

  defp spawn_greeters(parent, left) do
    spawn(fn -> send(parent, :hello) end)
    spawn_greeters(parent, left - 1)
  end

  defp await_greetings(0), do: :ok

  defp await_greetings(left) do
    receive do
      :hello -> await_greetings(left - 1)
    end
  end

  # Runs each unit's work in its own process, all released at once; returns
  # the operations per second, each unit doing `ops_per_unit`.
  defp ops_per_second(works, ops_per_unit) do
    me = self()

    units =
      for work <- works do
        spawn(fn ->
          receive do
            :go -> work.()
          end

          send(me, :unit_done)
        end)
      end

    {elapsed, :ok} =
      Bench.time(fn ->
        Enum.each(units, &send(&1, :go))
        await_units(length(units))
      end)

    length(units) * ops_per_unit / (elapsed / 1.0e9)
  end

  defp await_units(0), do: :ok

  defp await_units(left) do
    receive do
      :unit_done -> await_units(left - 1)
    end
  end
end
