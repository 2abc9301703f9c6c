using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Frontdesk.Tests.Infrastructure;

/// <summary>
/// PgBouncer in transaction mode in front of the Supabase-shaped cluster: what Supabase's pooler on
/// port 6543 does to a client (a server connection per transaction, nothing of a session kept).
/// One server connection for everyone, so two clinics' requests share it one transaction after the
/// other. Logins are checked with the same SCRAM verifiers as the server's.
/// </summary>
public sealed class TransactionPooler : IAsyncDisposable
{
    readonly string _dir;

    public int Port { get; }

    TransactionPooler(string dir, int port)
    {
        _dir = dir;
        Port = port;
    }

    public static async Task<TransactionPooler> StartAsync(int serverPort, string superuserConnectionString, params string[] users)
    {
        if (!File.Exists("/usr/sbin/pgbouncer"))
            Assert.Fail("PgBouncer is not installed: apt-get install -y pgbouncer");
        var dir = Path.Combine("/tmp", $"frontdesk-supabase-test-{Environment.ProcessId}-pgbouncer-{Guid.NewGuid():N}"[..60]);
        Directory.CreateDirectory(dir);

        var userlist = new List<string>();
        await using (var conn = new NpgsqlConnection(superuserConnectionString))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("select rolname::text, rolpassword from pg_authid where rolname = any($1) and rolpassword is not null", conn);
            cmd.Parameters.Add(new NpgsqlParameter { Value = users });
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync()) userlist.Add($"\"{r.GetString(0)}\" \"{r.GetString(1)}\"");
        }
        int port;
        using (var l = new TcpListener(IPAddress.Loopback, 0))
        {
            l.Start();
            port = ((IPEndPoint)l.LocalEndpoint).Port;
        }
        await File.WriteAllLinesAsync(Path.Combine(dir, "userlist.txt"), userlist);
        await File.WriteAllTextAsync(Path.Combine(dir, "pgbouncer.ini"), $"""
            [databases]
            * = host=127.0.0.1 port={serverPort}

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = {port}
            unix_socket_dir =
            auth_type = scram-sha-256
            auth_file = {dir}/userlist.txt
            pool_mode = transaction
            default_pool_size = 1
            max_client_conn = 200
            ignore_startup_parameters = extra_float_digits,search_path,options
            pidfile = {dir}/pgbouncer.pid
            logfile = {dir}/pgbouncer.log
            """);
        // PgBouncer refuses to run as root.
        var asRoot = Frontdesk.Platform.LocalPostgres.RunsAsPostgresUser;
        if (asRoot) await RunAsync("chown", "-R", "postgres:postgres", dir);
        if (asRoot) await RunAsync("runuser", "-u", "postgres", "--", "/usr/sbin/pgbouncer", "-d", Path.Combine(dir, "pgbouncer.ini"));
        else await RunAsync("/usr/sbin/pgbouncer", "-d", Path.Combine(dir, "pgbouncer.ini"));

        var pooler = new TransactionPooler(dir, port);
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return pooler;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        await pooler.DisposeAsync();
        throw new InvalidOperationException("PgBouncer did not start; see " + Path.Combine(dir, "pgbouncer.log"));
    }

    static async Task RunAsync(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: {err}");
    }

    public async ValueTask DisposeAsync()
    {
        var pidFile = Path.Combine(_dir, "pgbouncer.pid");
        if (File.Exists(pidFile))
            await RunAsync("kill", "-TERM", (await File.ReadAllTextAsync(pidFile)).Trim());
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
