defmodule Bench.Supervision do
  @moduledoc """
  Supervisors: dynsup_start, dynsup_shutdown and restart_latency. The
  children of the dynamic supervisors are the course's ticket workers, each
  holding the ticket `%{id: id, description: "Login issue", status: :open}`.
  """

  alias SupportSystem.{TicketSupervisor, TicketWorker}

  defmodule SimpleOneForOneTicketSupervisor do
    @moduledoc """
    The course's TicketSupervisor written with OTP's `simple_one_for_one`
    strategy instead of Elixir's DynamicSupervisor, for comparing shutdown.
    """
    @behaviour :supervisor

    def start_link, do: :supervisor.start_link(__MODULE__, [])

    def create_ticket(supervisor, ticket_details),
      do: :supervisor.start_child(supervisor, [ticket_details])

    @impl true
    def init([]) do
      worker = %{id: TicketWorker, start: {TicketWorker, :start_link, []}}
      {:ok, {%{strategy: :simple_one_for_one}, [worker]}}
    end
  end

  defmodule RestartWorker do
    @moduledoc "A named GenServer that does nothing but get killed and restarted."
    use GenServer

    def start_link(name), do: GenServer.start_link(__MODULE__, :ok, name: name)

    @impl true
    def init(:ok), do: {:ok, nil}
  end

  @doc "The ticket a benchmark's worker number `id` holds, as in the course."
  def ticket(id), do: %{id: id, description: "Login issue", status: :open}

  ## dynsup_start

  @doc """
  Starts `n` ticket workers one after another under the course's
  TicketSupervisor. µs per start_child, and bytes per child: total memory
  once stable after the starts, minus before, over `n`.
  """
  def dynsup_start(%{n: n}) do
    supervisor = Bench.start_unlinked(&TicketSupervisor.start_link/0)
    memory_before = Bench.stable_memory()
    {elapsed, :ok} = Bench.time(fn -> create_tickets(&TicketSupervisor.create_ticket/1, 1, n) end)
    memory_after = Bench.stable_memory()
    Bench.stop(supervisor, :kill)

    [
      {"dynsup_start", elapsed / n / 1000, "us"},
      {"dynsup_start_bytes", (memory_after - memory_before) / n, "bytes"}
    ]
  end

  defp create_tickets(_create_ticket, id, last) when id > last, do: :ok

  defp create_tickets(create_ticket, id, last) do
    {:ok, _worker} = create_ticket.(ticket(id))
    create_tickets(create_ticket, id + 1, last)
  end

  ## dynsup_shutdown

  @doc """
  Stops a supervisor holding `n / 10`, then `n`, ticket workers: ms from
  the exit signal until the supervisor has exited. First Elixir's
  DynamicSupervisor (the course's TicketSupervisor), then OTP's
  simple_one_for_one.
  """
  def dynsup_shutdown(%{n: n}) do
    [
      {"dynsup_shutdown_10k", shutdown_ms(:dynamic, div(n, 10)), "ms"},
      {"dynsup_shutdown_100k", shutdown_ms(:dynamic, n), "ms"},
      {"dynsup_shutdown_10k_sofo", shutdown_ms(:simple_one_for_one, div(n, 10)), "ms"},
      {"dynsup_shutdown_100k_sofo", shutdown_ms(:simple_one_for_one, n), "ms"}
    ]
  end

  defp shutdown_ms(kind, children) do
    supervisor = start_ticket_supervisor(kind)
    create_tickets(&create_ticket(kind, supervisor, &1), 1, children)
    {elapsed, :ok} = Bench.time(fn -> Bench.stop(supervisor, :shutdown) end)
    elapsed / 1.0e6
  end

  defp start_ticket_supervisor(:dynamic),
    do: Bench.start_unlinked(&TicketSupervisor.start_link/0)

  defp start_ticket_supervisor(:simple_one_for_one),
    do: Bench.start_unlinked(&SimpleOneForOneTicketSupervisor.start_link/0)

  defp create_ticket(:dynamic, _supervisor, ticket),
    do: TicketSupervisor.create_ticket(ticket)

  defp create_ticket(:simple_one_for_one, supervisor, ticket),
    do: SimpleOneForOneTicketSupervisor.create_ticket(supervisor, ticket)

  ## restart_latency

  # "Very high": the restart intensity never stops the supervisor.
  @max_restarts 1_000_000_000

  @doc """
  A supervisor with `max_seconds: 1` and named GenServer children: monitor a
  child, kill it, receive DOWN, then ask which_children until it shows new
  pids; `k` times. First one_for_one with one child, then one_for_all with `c`
  children killed in turn, each restart done when all `c` have new pids.
  µs per restart, over the first 100 and over all `k`.
  """
  def restart_latency(%{k: k, c: c}) do
    {one_for_one_first100, one_for_one} = restart_us(:one_for_one, 1, k)
    {one_for_all_first100, one_for_all} = restart_us(:one_for_all, c, k)

    [
      {"restart_one_for_one_first100", one_for_one_first100, "us"},
      {"restart_one_for_one", one_for_one, "us"},
      {"restart_one_for_all_first100", one_for_all_first100, "us"},
      {"restart_one_for_all", one_for_all, "us"}
    ]
  end

  defp restart_us(strategy, children, restarts) do
    specs =
      for i <- 1..children,
          do: Supervisor.child_spec({RestartWorker, :"bench_restart_worker_#{i}"}, id: i)

    supervisor =
      Bench.start_unlinked(fn ->
        Supervisor.start_link(specs,
          strategy: strategy,
          max_restarts: @max_restarts,
          max_seconds: 1
        )
      end)

    first = min(100, restarts)
    {first_ns, pids} = Bench.time(fn -> restart(supervisor, child_pids(supervisor), 0, first) end)
    {rest_ns, _pids} = Bench.time(fn -> restart(supervisor, pids, first, restarts) end)
    Bench.stop(supervisor, :shutdown)
    {first_ns / first / 1000, (first_ns + rest_ns) / restarts / 1000}
  end

  # Kills child number `done` (round robin) and returns once every child has
  # a new pid, with those pids; `total - done` times.
  defp restart(_supervisor, pids, total, total), do: pids

  defp restart(supervisor, pids, done, total) do
    victim = Enum.at(pids, rem(done, length(pids)))
    ref = Process.monitor(victim)
    Process.exit(victim, :kill)

    receive do
      {:DOWN, ^ref, :process, ^victim, :killed} -> :ok
    end

    restart(supervisor, await_new_pids(supervisor, pids), done + 1, total)
  end

  defp await_new_pids(supervisor, old_pids) do
    pids = child_pids(supervisor)

    if Enum.all?(pids, &(is_pid(&1) and &1 not in old_pids)),
      do: pids,
      else: await_new_pids(supervisor, old_pids)
  end

  defp child_pids(supervisor),
    do: for({_id, pid, _type, _modules} <- Supervisor.which_children(supervisor), do: pid)
end
