using System.Text.Json;
using System.Threading.Channels;
using Npgsql;

namespace Frontdesk.Platform;

/// <summary>One claimed outbox job.</summary>
public sealed record OutboxItem(long Id, Guid ClinicId, string Kind, JsonElement Payload, int Attempts, string PreviousStatus);

/// <summary>What a handler decided about a job.</summary>
public abstract record OutboxResult
{
    public sealed record Done : OutboxResult;
    /// <summary>Try again at <paramref name="At"/> (transient failure).</summary>
    public sealed record Retry(DateTimeOffset At, string Error) : OutboxResult;
    /// <summary>Final failure; nothing more will be tried.</summary>
    public sealed record Failed(string Error) : OutboxResult;
    /// <summary>Stopped for a person to look at (e.g. an SMS whose send outcome is unknown).</summary>
    public sealed record Review(string Error) : OutboxResult;
}

/// <summary>Runs jobs of one kind. <see cref="Ready"/> false leaves the kind's jobs untouched in the
/// outbox (e.g. SMS while Twilio is not configured).</summary>
public interface IOutboxHandler
{
    string Kind { get; }
    bool Ready { get; }
    Task<OutboxResult> HandleAsync(OutboxItem item, CancellationToken ct);
}

/// <summary>
/// The generic outbox (ARCHITECTURE decision 6): features insert a job in the same transaction as the
/// change that causes it; the worker claims due jobs with FOR UPDATE SKIP LOCKED (safe with several
/// instances) and runs them. It wakes on an in-process signal, on NOTIFY from any instance, and
/// polls once a second as the fallback. Retries are durable: next_attempt_at, not memory.
/// </summary>
public sealed partial class Outbox(Db db, IEnumerable<IOutboxHandler> handlers, ILogger<Outbox> log) : BackgroundService
{
    public const string Channel = "frontdesk_outbox";
    const int BatchSize = 32;
    static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);

    readonly Dictionary<string, IOutboxHandler> _handlers = handlers.ToDictionary(h => h.Kind, StringComparer.Ordinal);
    readonly Channel<bool> _wake = System.Threading.Channels.Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    // Other instances hear about new jobs from here, after commit and once per burst, never from a
    // trigger in the writer's transaction (issue 16: the notify lock serializes notifying commits).
    readonly DebouncedNotify _notify = new(db.DataSource, Channel, TimeSpan.FromMilliseconds(50), log);

    /// <summary>Adds a job in the caller's transaction; call <see cref="Signal"/> after commit.</summary>
    public static Task<long> EnqueueAsync(DbSession s, Guid clinicId, string kind, object payload, DateTimeOffset? notBefore, CancellationToken ct) =>
        s.QuerySingleOrDefaultAsync<long>("""
            insert into outbox (clinic_id, kind, payload, next_attempt_at)
            values (@ClinicId, @Kind, @Payload::jsonb, coalesce(@NotBefore, now()))
            returning id
            """, new { ClinicId = clinicId, Kind = kind, Payload = JsonSerializer.Serialize(payload), NotBefore = notBefore }, ct);

    /// <summary>Call after committing a job: wakes this instance's worker now and, debounced, the
    /// other instances' through NOTIFY.</summary>
    public void Signal()
    {
        Wake();
        _notify.Request();
    }

    void Wake() => _wake.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var h in _handlers.Values.Where(h => !h.Ready))
            Log.HandlerNotReady(log, h.Kind);
        var listener = ListenAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var claimed = await RunOnceAsync(stoppingToken);
                if (claimed == BatchSize) continue;   // more may be due
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
            {
                Log.WorkerFailed(log, e.GetType().Name, e);
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(Poll);
            try { await _wake.Reader.ReadAsync(timeout.Token); }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested) { }
            catch (OperationCanceledException) { break; }
        }
        try { await listener; } catch (OperationCanceledException) { }
    }

    /// <summary>Claims up to a batch of due jobs of ready kinds and runs them; returns how many were claimed.</summary>
    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        var kinds = _handlers.Values.Where(h => h.Ready).Select(h => h.Kind).ToArray();
        if (kinds.Length == 0) return 0;
        // A 'processing' row whose lease ran out belonged to an instance that died mid-job; the
        // handler sees PreviousStatus and decides (the SMS sender never resends blindly).
        var items = await db.QueryOnceAsync<OutboxItem>(RequestClaims.AsSystem(SystemPath.Worker), """
            with due as (
              select id, status from outbox
              where kind = any(@Kinds)
                and ((status = 'pending' and next_attempt_at <= now())
                  or (status = 'processing' and locked_until < now()))
              order by next_attempt_at
              limit @Limit
              for update skip locked
            )
            update outbox o set status = 'processing', attempts = o.attempts + 1, locked_until = now() + @Lease, updated_at = now()
            from due where o.id = due.id
            returning o.id, o.clinic_id, o.kind, o.payload, o.attempts, due.status
            """, new { Kinds = kinds, Limit = BatchSize, Lease = Lease }, ct);
        if (items.Count == 0) return 0;
        await Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct },
            async (item, token) => await RunAsync(item, token));
        return items.Count;
    }

    async Task RunAsync(OutboxItem item, CancellationToken ct)
    {
        OutboxResult result;
        try
        {
            result = await _handlers[item.Kind].HandleAsync(item, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.JobFailed(log, item.Kind, item.Id, e.GetType().Name, e);
            result = new OutboxResult.Retry(DateTimeOffset.UtcNow + Backoff(item.Attempts), e.GetType().Name);
        }
        if (result is OutboxResult.Retry && item.Attempts >= MaxAttempts)
            result = new OutboxResult.Failed("gave up after " + item.Attempts + " attempts: " + ((OutboxResult.Retry)result).Error);
        var (status, at, error) = result switch
        {
            OutboxResult.Done => ("done", (DateTimeOffset?)null, (string?)null),
            OutboxResult.Retry r => ("pending", r.At, r.Error),
            OutboxResult.Failed f => ("failed", null, f.Error),
            OutboxResult.Review v => ("review", null, v.Error),
            _ => throw new InvalidOperationException("unknown outbox result"),
        };
        await db.QueryOnceAsync<int>(RequestClaims.AsSystem(SystemPath.Worker), """
            update outbox set status = @Status, next_attempt_at = coalesce(@At, next_attempt_at), last_error = @Error,
                   locked_until = null, updated_at = now()
            where id = @Id
            returning 1
            """, new { Status = status, At = at, Error = error is { Length: > 500 } ? error[..500] : error, item.Id }, CancellationToken.None);
    }

    public const int MaxAttempts = 10;

    /// <summary>0.5 s, 1 s, 2 s … capped at 5 minutes, with ±20 % jitter so instances do not retry in step.</summary>
    public static TimeSpan Backoff(int attempts)
    {
        var ms = Math.Min(500 * Math.Pow(2, Math.Max(0, attempts - 1)), 300_000);
        return TimeSpan.FromMilliseconds(ms * (0.8 + Random.Shared.NextDouble() * 0.4));
    }

    async Task ListenAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var conn = await db.DataSource.OpenConnectionAsync(ct);
                conn.Notification += (_, _) => Wake();   // local only: re-notifying would echo forever
                await using (var cmd = new NpgsqlCommand("listen " + Channel, conn))
                    await cmd.ExecuteNonQueryAsync(ct);
                while (!ct.IsCancellationRequested)
                    await conn.WaitAsync(ct);
            }
            catch (OperationCanceledException) { return; }
            catch (Exception e) when (e is NpgsqlException or System.IO.IOException or TimeoutException)
            {
                // Polling covers the gap; reconnect shortly.
                Log.ListenerFailed(log, e.GetType().Name);
                try { await Task.Delay(TimeSpan.FromSeconds(2), ct); } catch (OperationCanceledException) { return; }
            }
        }
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox jobs of kind {Kind} stay queued: their handler is not configured")]
        public static partial void HandlerNotReady(ILogger logger, string kind);

        [LoggerMessage(Level = LogLevel.Error, Message = "Outbox worker pass failed ({ExceptionType}); retrying")]
        public static partial void WorkerFailed(ILogger logger, string exceptionType, Exception e);

        [LoggerMessage(Level = LogLevel.Error, Message = "Outbox job {Kind} {Id} threw {ExceptionType}; scheduled for retry")]
        public static partial void JobFailed(ILogger logger, string kind, long id, string exceptionType, Exception e);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox LISTEN connection failed ({ExceptionType}); polling until it reconnects")]
        public static partial void ListenerFailed(ILogger logger, string exceptionType);
    }
}

public static class OutboxServices
{
    /// <summary>The worker is a singleton so features can <see cref="Outbox.Signal"/> it after commit.</summary>
    public static IServiceCollection AddOutbox(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(Outbox))) return services;   // several features may ask for it
        services.AddSingleton<Outbox>();
        services.AddHostedService(sp => sp.GetRequiredService<Outbox>());
        return services;
    }
}
