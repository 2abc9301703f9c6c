using Npgsql;

namespace Frontdesk.Calendar;

/// <summary>In-process wake-up for the worker (a push notification, a sync request, a NOTIFY).</summary>
public sealed class CalendarSignal : IDisposable
{
    readonly SemaphoreSlim _gate = new(0, 1);

    public void Set()
    {
        try { _gate.Release(); }
        catch (SemaphoreFullException) { /* already signalled */ }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => _gate.WaitAsync(timeout, ct);

    public void Dispose() => _gate.Dispose();
}

/// <summary>A batch of jobs or calendars claimed under a lease, worked through in order by one worker.</summary>
static class ClaimedBatch
{
    /// <summary>Applies each item; when the worker is stopped part-way, <paramref name="release"/> gets the items
    /// not yet done (the current one first, in case it was stopped before it could hand itself back), so
    /// another instance can take them now rather than when their lease runs out minutes later.</summary>
    public static async Task RunAsync<T>(IReadOnlyList<T> batch, Func<T, Task> apply, Func<IReadOnlyList<T>, Task> release, CancellationToken ct)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            try
            {
                await apply(batch[i]);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                await release([.. batch.Skip(i)]);
                throw;
            }
        }
    }
}

/// <summary>
/// Applies calendar jobs and runs due syncs. Safe on any number of instances: jobs and syncs are
/// claimed with FOR UPDATE SKIP LOCKED and a lease. Wakes when a booking change commits here
/// (Db.Committed), on NOTIFY frontdesk_calendar (sent after commit by the instance that made the
/// change, so any instance's booking wakes every instance), on the in-process signal, and otherwise
/// polls. Runs as <see cref="SystemPath.Worker"/>.
/// </summary>
public sealed partial class CalendarWorker(Db db, GoogleCalendarClient google, CalendarPush push, CalendarSync sync,
    CalendarSignal signal, CalendarOptions options, ILogger<CalendarWorker> log) : BackgroundService
{
    public const string Channel = "frontdesk_calendar";

    // Booking changes commit without NOTIFY (issue 16); this instance wakes on Db.Committed and tells
    // the others after commit, once per burst.
    readonly DebouncedNotify _notify = new(db.DataSource, Channel, TimeSpan.FromMilliseconds(50), log);

    void OnCommitted(string topic)
    {
        if (topic != Booking.SlotEngine.BookingsTopic) return;
        signal.Set();
        _notify.Request();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!google.Enabled)
        {
            Log.Off(log);
            return;
        }
        db.Committed += OnCommitted;
        using var unsubscribe = stoppingToken.Register(() => db.Committed -= OnCommitted);
        var listener = ListenAsync(stoppingToken);
        var poll = TimeSpan.FromSeconds(options.PollSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // Drain: a full batch suggests more is due.
                while (await push.RunDueAsync(16, stoppingToken) == 16) { }
                while (await sync.RunDueAsync(4, stoppingToken) == 4) { }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The database, or an answer we could not read: leases expire, so the work is retried
                // later. The worker itself must outlive any one failure.
                Log.PassFailed(log, e.GetType().Name);
            }
            try { await signal.WaitAsync(poll, stoppingToken); }
            catch (OperationCanceledException) { break; }
        }
        await listener;
    }

    // LISTEN needs one connection outside any transaction for the worker's lifetime; it reads no
    // clinic data, so it is not a tenant session.
    async Task ListenAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var conn = await db.DataSource.OpenConnectionAsync(stop);
                conn.Notification += (_, _) => signal.Set();
                await using (var cmd = new NpgsqlCommand("listen " + Channel, conn))
                    await cmd.ExecuteNonQueryAsync(stop);
                signal.Set(); // anything enqueued before LISTEN took effect
                while (!stop.IsCancellationRequested)
                    await conn.WaitAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { return; }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                Log.ListenFailed(log, e.GetType().Name);
                try { await Task.Delay(TimeSpan.FromSeconds(5), stop); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Calendar sync is off: GOOGLE_APPLICATION_CREDENTIALS is not set. Calendar jobs of linked practitioners wait in calendar_jobs.")]
        public static partial void Off(ILogger logger);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Calendar worker pass failed ({Error}); retrying on the next wake-up")]
        public static partial void PassFailed(ILogger logger, string error);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Calendar LISTEN connection failed ({Error}); polling until it is back")]
        public static partial void ListenFailed(ILogger logger, string error);
    }
}
