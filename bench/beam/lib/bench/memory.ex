defmodule Bench.Memory do
  @moduledoc """
  idle_process_memory: what a process that waits for a message costs.

  The processes form a chain, each holding only the pid of the one started
  before it, so that the caller keeps a single pid instead of a list that
  would count in the figure; a `:stop` message walks the chain to end them.
  """

  defmodule IdleServer do
    @moduledoc "A GenServer that waits; its state is the previous process in the chain."
    use GenServer

    @impl true
    def init(previous), do: {:ok, previous}

    @impl true
    def handle_info(:stop, previous) do
      if previous, do: send(previous, :stop)
      {:stop, :normal, previous}
    end
  end

  @doc """
  `p` processes that block at once waiting for a message: total memory once
  stable after starting them, minus before, over `p`. Bytes per process,
  for an idle GenServer (reactive) and a spawned process blocked in
  `receive`.
  """
  def idle_process_memory(%{p: p}) do
    [
      {"idle_process_memory_reactive", bytes_per_process(&start_idle_server/1, p), "bytes"},
      {"idle_process_memory_spawned", bytes_per_process(&spawn_idle/1, p), "bytes"}
    ]
  end

  defp bytes_per_process(start, p) do
    alive_before = :erlang.system_info(:process_count)
    memory_before = Bench.stable_memory()
    last = start_chain(start, nil, p)
    memory_after = Bench.stable_memory()
    send(last, :stop)
    Bench.await_process_count(alive_before)
    (memory_after - memory_before) / p
  end

  defp start_chain(_start, previous, 0), do: previous
  defp start_chain(start, previous, left), do: start_chain(start, start.(previous), left - 1)

  defp start_idle_server(previous) do
    {:ok, pid} = GenServer.start(IdleServer, previous)
    pid
  end

  defp spawn_idle(previous), do: spawn(fn -> idle(previous) end)

  defp idle(previous) do
    receive do
      :stop -> if previous, do: send(previous, :stop)
    end
  end
end
