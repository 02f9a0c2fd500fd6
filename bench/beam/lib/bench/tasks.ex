defmodule Bench.Tasks do
  @moduledoc """
  task_async_await: tasks under a Task.Supervisor, each returning `i * 2`.
  """

  @doc """
  `t` times in sequence: `Task.Supervisor.async_nolink` then `Task.await`;
  then `t` tasks started and awaited together. µs per task, each way.
  """
  def task_async_await(%{t: t}) do
    supervisor = Bench.start_unlinked(&Task.Supervisor.start_link/0)

    {sequential, :ok} = Bench.time(fn -> run_in_sequence(supervisor, 1, t) end)

    {concurrent, results} =
      Bench.time(fn ->
        1..t
        |> Enum.map(fn i -> Task.Supervisor.async_nolink(supervisor, fn -> i * 2 end) end)
        |> Task.await_many(:infinity)
      end)

    Bench.stop(supervisor, :shutdown)
    true = results == Enum.map(1..t, &(&1 * 2))

    [
      {"task_async_await_seq", sequential / t / 1000, "us"},
      {"task_async_await_concurrent", concurrent / t / 1000, "us"}
    ]
  end

  defp run_in_sequence(_supervisor, i, last) when i > last, do: :ok

  defp run_in_sequence(supervisor, i, last) do
    expected = i * 2
    ^expected = supervisor |> Task.Supervisor.async_nolink(fn -> i * 2 end) |> Task.await()
    run_in_sequence(supervisor, i + 1, last)
  end
end
