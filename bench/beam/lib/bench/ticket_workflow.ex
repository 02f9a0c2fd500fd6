defmodule Bench.TicketWorkflow do
  @moduledoc """
  ticket_workflow: the course's desk under load.
  """

  alias SupportSystem.TicketSupervisor

  @doc """
  For `t` tickets: create_ticket under the course's TicketSupervisor, then
  call `:assign_agent`, then call `:resolve`. One client doing all `t`, then
  two clients doing `t / 2` each at once. Tickets per second.
  """
  def ticket_workflow(%{t: t}) do
    [
      {"ticket_workflow_1client", tickets_per_second(1, t), "tickets/s"},
      {"ticket_workflow_2clients", tickets_per_second(2, t), "tickets/s"}
    ]
  end

  defp tickets_per_second(clients, tickets) do
    supervisor = Bench.start_unlinked(&TicketSupervisor.start_link/0)
    per_client = div(tickets, clients)
    me = self()

    client_pids =
      for client <- 0..(clients - 1) do
        first_id = client * per_client + 1
        spawn(fn -> client(me, first_id, first_id + per_client - 1) end)
      end

    {elapsed, :ok} =
      Bench.time(fn ->
        Enum.each(client_pids, &send(&1, :go))
        await_clients(clients)
      end)

    # Stopping 100,000 workers in order is dynsup_shutdown's business; here
    # they only need to go.
    Bench.stop(supervisor, :kill)
    clients * per_client / (elapsed / 1.0e9)
  end

  defp client(caller, first_id, last_id) do
    receive do
      :go -> :ok
    end

    handle_tickets(first_id, last_id)
    send(caller, :client_done)
  end

  defp handle_tickets(id, last_id) when id > last_id, do: :ok

  defp handle_tickets(id, last_id) do
    {:ok, worker} = TicketSupervisor.create_ticket(Bench.Supervision.ticket(id))
    :ok = GenServer.call(worker, :assign_agent)
    :ok = GenServer.call(worker, :resolve)
    handle_tickets(id + 1, last_id)
  end

  defp await_clients(0), do: :ok

  defp await_clients(left) do
    receive do
      :client_done -> await_clients(left - 1)
    end
  end
end
