# The course's ticket desk, as the course writes it
# (shared/seed/supervision-trees-course.md, "Building a Supervised Customer
# Support Ticket System"): dynsup_start, dynsup_shutdown and ticket_workflow
# run this code unchanged.

defmodule SupportSystem.TicketWorker do
  use GenServer

  def start_link(ticket) do
    GenServer.start_link(__MODULE__, ticket)
  end

  def init(ticket) do
    {:ok, ticket}
  end

  def handle_call(:assign_agent, _from, ticket) do
    assigned_ticket = Map.put(ticket, :status, :assigned)
    {:reply, :ok, assigned_ticket}
  end

  def handle_call(:resolve, _from, ticket) do
    resolved_ticket = Map.put(ticket, :status, :resolved)
    {:reply, :ok, resolved_ticket}
  end
end

defmodule SupportSystem.TicketSupervisor do
  use DynamicSupervisor

  def start_link(options \\ []) do
    DynamicSupervisor.start_link(__MODULE__, options, name: __MODULE__)
  end

  def init(_options) do
    DynamicSupervisor.init(strategy: :one_for_one)
  end

  def create_ticket(ticket_details) do
    spec = {SupportSystem.TicketWorker, ticket_details}
    DynamicSupervisor.start_child(__MODULE__, spec)
  end
end
