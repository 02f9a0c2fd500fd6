defmodule Bench.Net do
  @moduledoc """
  The network benchmarks with gen_tcp over loopback, client and server in one
  VM as on Arbor's side: tcp_echo_rtt, tcp_echo_conns, tcp_accept_rate and
  tcp_idle_conn_bytes (definitions: docs/performance.md, "Network I/O").
  Sockets are binary, passive and `nodelay`; a connection is a process that
  owns its socket (`controlling_process`), as Arbor hands a connection to its
  process.
  """

  @msg :binary.copy("p", 64)
  @listen_opts [:binary, packet: :raw, active: false, reuseaddr: true, nodelay: true, backlog: 1024]
  @connect_opts [:binary, packet: :raw, active: false, nodelay: true]

  defp listen do
    {:ok, l} = :gen_tcp.listen(0, [{:ip, {127, 0, 0, 1}} | @listen_opts])
    {:ok, port} = :inet.port(l)
    {l, port}
  end

  # An acceptor for `n` connections, each handed to a process running
  # `handler.(socket)`; tells `parent` when it has accepted them all.
  defp start_server(n, handler) do
    parent = self()
    {l, port} = listen()

    acceptor =
      spawn(fn ->
        receive do
          :go -> accept_loop(l, n, handler)
        end

        send(parent, :acceptor_done)
      end)

    :ok = :gen_tcp.controlling_process(l, acceptor)
    send(acceptor, :go)
    port
  end

  defp accept_loop(l, 0, _handler), do: :gen_tcp.close(l)

  defp accept_loop(l, left, handler) do
    {:ok, s} = :gen_tcp.accept(l)

    pid =
      spawn(fn ->
        receive do
          :go -> handler.(s)
        end
      end)

    :ok = :gen_tcp.controlling_process(s, pid)
    send(pid, :go)
    accept_loop(l, left - 1, handler)
  end

  defp echo(s) do
    case :gen_tcp.recv(s, 0) do
      {:ok, data} ->
        :ok = :gen_tcp.send(s, data)
        echo(s)

      {:error, _} ->
        :gen_tcp.close(s)
    end
  end

  defp round_trips(_s, 0), do: :ok

  defp round_trips(s, left) do
    :ok = :gen_tcp.send(s, @msg)
    {:ok, _} = :gen_tcp.recv(s, 64)
    round_trips(s, left - 1)
  end

  ## tcp_echo_rtt

  @doc "One connection, `m` round trips of 64 bytes. µs per round trip."
  def tcp_echo_rtt(%{m: m}) do
    port = start_server(1, &echo/1)
    {:ok, c} = :gen_tcp.connect({127, 0, 0, 1}, port, @connect_opts)
    {elapsed, :ok} = Bench.time(fn -> round_trips(c, m) end)
    :gen_tcp.close(c)

    receive do
      :acceptor_done -> :ok
    end

    [{"tcp_echo_rtt", elapsed / m / 1000, "us"}]
  end

  ## tcp_echo_conns

  @doc """
  `c` connections, each its own client process doing `r` round trips, all at
  once once every connection is open. Round trips per second.
  """
  def tcp_echo_conns(%{c: c, r: r}) do
    parent = self()
    port = start_server(c, &echo/1)

    clients =
      for _ <- 1..c do
        spawn(fn ->
          {:ok, s} = :gen_tcp.connect({127, 0, 0, 1}, port, @connect_opts)
          send(parent, :ready)

          receive do
            :go -> round_trips(s, r)
          end

          :gen_tcp.close(s)
          send(parent, :done)
        end)
      end

    for _ <- 1..c, do: receive(do: (:ready -> :ok))

    {elapsed, _} =
      Bench.time(fn ->
        Enum.each(clients, &send(&1, :go))
        for _ <- 1..c, do: receive(do: (:done -> :ok))
      end)

    receive do
      :acceptor_done -> :ok
    end

    [{"tcp_echo_conns", c * r / (elapsed / 1.0e9), "trips/s"}]
  end

  ## tcp_accept_rate

  defp one_byte(s) do
    {:ok, b} = :gen_tcp.recv(s, 1)
    :ok = :gen_tcp.send(s, b)
    :gen_tcp.close(s)
  end

  # As on Arbor's side: a connect the kernel refuses for want of a local
  # port for a moment is tried again.
  defp connect_retrying(port) do
    case :gen_tcp.connect({127, 0, 0, 1}, port, @connect_opts) do
      {:ok, s} ->
        s

      {:error, :eagain} ->
        Process.sleep(1)
        connect_retrying(port)
    end
  end

  defp connect_loop(_port, 0), do: :ok

  defp connect_loop(port, left) do
    s = connect_retrying(port)
    :ok = :gen_tcp.send(s, "x")
    {:ok, _} = :gen_tcp.recv(s, 1)
    # Closed with a reset (no TIME_WAIT left), as on Arbor's side.
    :ok = :inet.setopts(s, linger: {true, 0})
    :gen_tcp.close(s)
    connect_loop(port, left - 1)
  end

  @doc """
  `c` clients connect, write a byte, read a byte and close (with a reset:
  linger 0), `n` connections in all; the server runs a process per
  connection. Connections per second.
  """
  def tcp_accept_rate(%{n: n, c: c}) do
    n = n - rem(n, c)
    parent = self()

    {elapsed, _} =
      Bench.time(fn ->
        port = start_server(n, &one_byte/1)

        for _ <- 1..c do
          spawn(fn ->
            connect_loop(port, div(n, c))
            send(parent, :done)
          end)
        end

        for _ <- 1..c, do: receive(do: (:done -> :ok))
      end)

    receive do
      :acceptor_done -> :ok
    end

    [{"tcp_accept_rate", n / (elapsed / 1.0e9), "conns/s"}]
  end

  ## tcp_idle_conn_bytes

  # The clients: another OS process (python3) that opens `p` connections,
  # says "ready", and holds them until its standard input closes, so that
  # both ends' descriptors fit under the open-file limit.
  @holder """
  import socket, sys
  port, n = int(sys.argv[1]), int(sys.argv[2])
  held = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
  sys.stdout.write("ready\\n"); sys.stdout.flush()
  sys.stdin.read()
  """

  defp idle(s) do
    :ok = :inet.setopts(s, active: :once)

    receive do
      # A reset leaves no TIME_WAIT to hold ports for the next benchmark.
      :stop ->
        :inet.setopts(s, linger: {true, 0})
        :gen_tcp.close(s)

      {:tcp_closed, ^s} ->
        :ok
    end
  end

  @doc """
  `p` open connections, each held by an idle server process armed for a
  message (`active: :once`): memory once stable, minus before, over `p`.
  Bytes per connection, the process and the port included.
  """
  def tcp_idle_conn_bytes(%{p: p}) do
    parent = self()
    {l, port} = listen()
    memory_before = Bench.stable_memory()
    python = System.find_executable("python3")

    holder =
      Port.open({:spawn_executable, python}, [
        :binary,
        {:line, 64},
        args: ["-c", @holder, Integer.to_string(port), Integer.to_string(p)]
      ])

    pids =
      for _ <- 1..p do
        {:ok, s} = :gen_tcp.accept(l)

        pid =
          spawn(fn ->
            receive do
              :go -> send(parent, :armed)
            end

            idle(s)
          end)

        :ok = :gen_tcp.controlling_process(s, pid)
        send(pid, :go)
        pid
      end

    for _ <- 1..p, do: receive(do: (:armed -> :ok))

    receive do
      {^holder, {:data, {:eol, "ready"}}} -> :ok
    end

    memory_after = Bench.stable_memory()
    Enum.each(pids, &send(&1, :stop))
    Port.close(holder)
    :gen_tcp.close(l)
    [{"tcp_idle_conn_bytes", (memory_after - memory_before) / p, "bytes"}]
  end
end
