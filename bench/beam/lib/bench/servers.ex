defmodule Bench.Servers do
  @moduledoc """
  GenServer calls and casts: genserver_call and genserver_cast, against a
  GenServer holding an integer.
  """

  defmodule Counter do
    @moduledoc "A GenServer holding an integer."
    use GenServer

    @impl true
    def init(count), do: {:ok, count}

    @impl true
    def handle_call(:inc, _from, count), do: {:reply, count + 1, count + 1}
    def handle_call(:get, _from, count), do: {:reply, count, count}

    @impl true
    def handle_cast(:inc, count), do: {:noreply, count + 1}
  end

  @doc """
  One client makes `n` sequential calls `:inc`, with the default call timeout
  (so each call monitors the server, as OTP does); the last reply must be
  `n`. ns per call.
  """
  def genserver_call(%{n: n}) do
    {:ok, counter} = GenServer.start(Counter, 0)
    {elapsed, last_reply} = Bench.time(fn -> call_inc(counter, n) end)
    GenServer.stop(counter)
    ^n = last_reply
    [{"genserver_call", elapsed / n, "ns"}]
  end

  @doc """
  Calls `:inc` on `counter` `left` times; returns the last reply. Shared
  with scaling_servers.
  """
  def call_inc(counter, 1), do: GenServer.call(counter, :inc)

  def call_inc(counter, left) do
    GenServer.call(counter, :inc)
    call_inc(counter, left - 1)
  end

  @doc """
  `n` casts `:inc`, then one call `:get` that must return `n`; timed to the
  reply. ns per cast.
  """
  def genserver_cast(%{n: n}) do
    {:ok, counter} = GenServer.start(Counter, 0)

    {elapsed, count} =
      Bench.time(fn ->
        cast_inc(counter, n)
        GenServer.call(counter, :get, :infinity)
      end)

    GenServer.stop(counter)
    ^n = count
    [{"genserver_cast", elapsed / n, "ns"}]
  end

  defp cast_inc(_counter, 0), do: :ok

  defp cast_inc(counter, left) do
    GenServer.cast(counter, :inc)
    cast_inc(counter, left - 1)
  end
end
