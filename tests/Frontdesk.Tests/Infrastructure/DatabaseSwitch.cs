using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Frontdesk.Tests.Infrastructure;

/// <summary>
/// A loopback TCP port in front of the test cluster that a test can turn off and on: off refuses new
/// connections and cuts the open ones (the database restarting, a network partition); on forwards
/// bytes to the server again. Only the instance whose URL names this port sees the outage.
/// </summary>
public sealed class DatabaseSwitch : IAsyncDisposable
{
    readonly EndPoint _server;
    readonly List<Socket> _open = [];
    TcpListener? _listener;
    CancellationTokenSource _stop = new();

    public int Port { get; }

    DatabaseSwitch(EndPoint server, int port)
    {
        _server = server;
        Port = port;
    }

    /// <summary>Forwards to the server behind <paramref name="connectionString"/> (a Unix socket folder or a TCP host).</summary>
    public static DatabaseSwitch Start(string connectionString)
    {
        var csb = new NpgsqlConnectionStringBuilder(connectionString);
        EndPoint server = csb.Host!.StartsWith('/')
            ? new UnixDomainSocketEndPoint(Path.Combine(csb.Host, $".s.PGSQL.{csb.Port}"))
            : new DnsEndPoint(csb.Host, csb.Port);
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var s = new DatabaseSwitch(server, port);
        s.On();
        return s;
    }

    /// <summary><paramref name="connectionString"/> with its server replaced by this port.</summary>
    public string Through(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Host = "127.0.0.1", Port = Port, Timeout = 3 }.ConnectionString;

    public void On()
    {
        _stop = new CancellationTokenSource();
        _listener = new TcpListener(IPAddress.Loopback, Port);
        _listener.Start();
        _ = AcceptAsync(_listener, _stop.Token);
    }

    public void Off()
    {
        _stop.Cancel();
        _listener?.Stop();
        _listener = null;
        lock (_open)
        {
            foreach (var s in _open)
                try { s.Close(); } catch (SocketException) { } catch (ObjectDisposedException) { }
            _open.Clear();
        }
    }

    async Task AcceptAsync(TcpListener listener, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await listener.AcceptSocketAsync(stop); }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { return; }
            _ = PipeAsync(client, stop);
        }
    }

    async Task PipeAsync(Socket client, CancellationToken stop)
    {
        var server = new Socket(_server.AddressFamily == AddressFamily.Unix ? AddressFamily.Unix : AddressFamily.InterNetwork,
            SocketType.Stream, _server.AddressFamily == AddressFamily.Unix ? ProtocolType.Unspecified : ProtocolType.Tcp);
        lock (_open) { _open.Add(client); _open.Add(server); }
        try
        {
            await server.ConnectAsync(_server, stop);
            await Task.WhenAny(CopyAsync(client, server, stop), CopyAsync(server, client, stop));
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
        finally
        {
            client.Close();
            server.Close();
            lock (_open) { _open.Remove(client); _open.Remove(server); }
        }
    }

    static async Task CopyAsync(Socket from, Socket to, CancellationToken stop)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, stop);
                if (n == 0) return;
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, stop);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
    }

    public ValueTask DisposeAsync()
    {
        Off();
        return ValueTask.CompletedTask;
    }
}
