using Npgsql;

namespace Frontdesk.Platform;

/// <summary>
/// Wakes workers on other instances with <c>NOTIFY channel</c>, sent after the writer's commit from
/// a connection of its own, at most once per <paramref name="window"/> however many commits asked.
/// A transaction that NOTIFYs takes PostgreSQL's cluster-wide notify lock at commit and holds it
/// through the commit's WAL flush, so a NOTIFY in every writing transaction would queue every
/// writer of every clinic behind one lock (issue 16). This NOTIFY runs in a transaction that writes
/// nothing, so it flushes nothing and holds the lock for microseconds. Losing one is harmless:
/// workers also poll.
/// </summary>
public sealed partial class DebouncedNotify(NpgsqlDataSource dataSource, string channel, TimeSpan window, ILogger log)
{
    int _requested;
    int _running;

    /// <summary>Asks for a NOTIFY soon; returns at once.</summary>
    public void Request()
    {
        Volatile.Write(ref _requested, 1);
        if (Interlocked.CompareExchange(ref _running, 1, 0) == 0)
            _ = Task.Run(RunAsync);
    }

    async Task RunAsync()
    {
        try
        {
            while (Interlocked.Exchange(ref _requested, 0) == 1)
            {
                await SendAsync();
                await Task.Delay(window);   // requests meanwhile coalesce into the next NOTIFY
            }
        }
        finally
        {
            Volatile.Write(ref _running, 0);
            // A request that arrived between the last check and the line above must not be lost.
            if (Volatile.Read(ref _requested) == 1 && Interlocked.CompareExchange(ref _running, 1, 0) == 0)
                _ = Task.Run(RunAsync);
        }
    }

    async Task SendAsync()
    {
        try
        {
            await using var conn = await dataSource.OpenConnectionAsync();
            await using var cmd = new NpgsqlCommand("select pg_notify($1, '')", conn);
            cmd.Parameters.Add(new NpgsqlParameter { Value = channel });
            await cmd.ExecuteNonQueryAsync();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException or ObjectDisposedException)
        {
            // The other instances poll; this only made them sooner.
            Log.NotifyFailed(log, channel, e.GetType().Name);
        }
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "NOTIFY {Channel} failed ({ExceptionType}); other instances find the work by polling")]
        public static partial void NotifyFailed(ILogger logger, string channel, string exceptionType);
    }
}
