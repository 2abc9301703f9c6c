using System.Text.Json;
using System.Threading.Channels;
using Npgsql;

namespace Frontdesk.Platform;

/// <summary>One claimed outbox job. <paramref name="DueAt"/> is when it first became due: a handler's
/// usefulness window counts from it.</summary>
public sealed record OutboxItem(long Id, Guid ClinicId, string Kind, JsonElement Payload, int Attempts, string PreviousStatus, DateTimeOffset DueAt);

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
    /// <summary>Not now, and this run was not an attempt (e.g. quiet hours at send time): run again at
    /// <paramref name="At"/> with the attempt count unchanged.</summary>
    public sealed record Defer(DateTimeOffset At, string Reason) : OutboxResult;
}

/// <summary>Runs jobs of one kind. <see cref="Ready"/> false leaves the kind's jobs untouched in the
/// outbox (e.g. SMS while Twilio is not configured).</summary>
public interface IOutboxHandler
{
    string Kind { get; }
    bool Ready { get; }
    Task<OutboxResult> HandleAsync(OutboxItem item, CancellationToken ct);

    /// <summary>The outbox gives the job up (its handler kept throwing past <see cref="OutboxOptions.MaxJobAgeHours"/>):
    /// the handler marks every row that describes the job and says which terminal state it ends in.</summary>
    Task<OutboxResult> GiveUpAsync(OutboxItem item, string reason, CancellationToken ct) =>
        Task.FromResult<OutboxResult>(new OutboxResult.Failed(reason));
}

/// <summary>
/// The generic outbox (ARCHITECTURE decision 6): features insert a job in the same transaction as the
/// change that causes it; the worker claims due jobs with FOR UPDATE SKIP LOCKED (safe with several
/// instances) and runs them. It wakes on an in-process signal, on NOTIFY from any instance, and
/// polls once a second as the fallback. Retries are durable: next_attempt_at, not memory.
/// Retries are bounded by usefulness, not by a count (ARCHITECTURE decision 13): each handler gives a
/// job up when its kind's window has passed since <see cref="OutboxItem.DueAt"/>; a job whose handler
/// keeps throwing is given up after <see cref="OutboxOptions.MaxJobAgeHours"/>.
/// Shutdown: the stopping token stops claiming; jobs already claimed run on until the host's
/// shutdown grace runs out, so a send in flight finishes and its outcome is recorded.
/// </summary>
public sealed partial class Outbox(Db db, IEnumerable<IOutboxHandler> handlers, OutboxOptions options, ILogger<Outbox> log) : BackgroundService
{
    public const string Channel = "frontdesk_outbox";
    const int BatchSize = 32;
    TimeSpan Lease => TimeSpan.FromSeconds(options.LeaseSeconds);
    TimeSpan Poll => TimeSpan.FromSeconds(options.PollSeconds);
    // Cancelled only when the host's shutdown grace is over (StopAsync's token), not when stopping starts.
    readonly CancellationTokenSource _hardStop = new();

    readonly Dictionary<string, IOutboxHandler> _handlers = handlers.ToDictionary(h => h.Kind, StringComparer.Ordinal);
    readonly Channel<bool> _wake = System.Threading.Channels.Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    // Other instances hear about new jobs from here, after commit and once per burst, never from a
    // trigger in the writer's transaction (issue 16: the notify lock serializes notifying commits).
    readonly DebouncedNotify _notify = new(db.DataSource, Channel, TimeSpan.FromMilliseconds(50), log);

    /// <summary>Adds a job in the caller's transaction; call <see cref="Signal"/> after commit.</summary>
    public static Task<long> EnqueueAsync(DbSession s, Guid clinicId, string kind, object payload, DateTimeOffset? notBefore, CancellationToken ct) =>
        s.QuerySingleOrDefaultAsync<long>("""
            insert into outbox (clinic_id, kind, payload, next_attempt_at, due_at)
            values (@ClinicId, @Kind, @Payload::jsonb, coalesce(@NotBefore, now()), coalesce(@NotBefore, now()))
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
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // The database restarting, an answer we could not read: leases and next_attempt_at keep
                // the work; the worker itself must outlive any one failure.
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

    /// <summary>Lets jobs in flight finish until the host's grace period (<paramref name="cancellationToken"/>) ends.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await using var reg = cancellationToken.Register(_hardStop.Cancel);
        await base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _hardStop.Dispose();
        base.Dispose();
    }

    /// <summary>Claims up to a batch of due jobs of ready kinds and runs them; returns how many were claimed.
    /// <paramref name="ct"/> stops the claim; claimed jobs run to the end (or to the end of the shutdown grace).</summary>
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
            returning o.id, o.clinic_id, o.kind, o.payload, o.attempts, due.status, o.due_at
            """, new { Kinds = kinds, Limit = BatchSize, Lease = Lease }, ct);
        if (items.Count == 0) return 0;
        var run = _hardStop.Token;
        await Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = run },
            async (item, token) => await RunAsync(item, token));
        return items.Count;
    }

    async Task RunAsync(OutboxItem item, CancellationToken ct)
    {
        var handler = _handlers[item.Kind];
        OutboxResult result;
        try
        {
            result = await handler.HandleAsync(item, ct);
        }
        // A cancellation that is not our hard stop (an HTTP client's timeout, a command timeout) is a failed
        // attempt like any other: escaping here would leave the job 'processing' until its lease ran out.
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            Log.JobFailed(log, item.Kind, item.Id, e.GetType().Name, e);
            result = new OutboxResult.Retry(DateTimeOffset.UtcNow + options.Backoff(item.Attempts), e.GetType().Name);
            if (DateTimeOffset.UtcNow - item.DueAt > TimeSpan.FromHours(options.MaxJobAgeHours))
            {
                var reason = $"gave up after {item.Attempts} attempts over {options.MaxJobAgeHours:0.##} h: {e.GetType().Name}";
                try
                {
                    result = await handler.GiveUpAsync(item, reason, CancellationToken.None);
                }
                catch (Exception g) when (g is not OperationCanceledException)
                {
                    // The handler cannot even mark its rows (the payload that made it throw, say): the job
                    // still ends failed, for a person, instead of escaping here and being claimed forever.
                    Log.JobFailed(log, item.Kind, item.Id, g.GetType().Name, g);
                    result = new OutboxResult.Failed(reason);
                }
            }
        }
        var (status, at, error, attempt) = result switch
        {
            OutboxResult.Done => ("done", (DateTimeOffset?)null, (string?)null, 0),
            OutboxResult.Retry r => ("pending", r.At, r.Error, 0),
            OutboxResult.Defer d => ("pending", d.At, d.Reason, -1),   // not an attempt: give the claim's count back
            OutboxResult.Failed f => ("failed", null, f.Error, 0),
            OutboxResult.Review v => ("review", null, v.Error, 0),
            _ => throw new InvalidOperationException("unknown outbox result"),
        };
        if (result is OutboxResult.Failed or OutboxResult.Review) Log.JobEnded(log, item.Kind, item.Id, status);
        await db.QueryOnceAsync<int>(RequestClaims.AsSystem(SystemPath.Worker), """
            update outbox set status = @Status, next_attempt_at = coalesce(@At, next_attempt_at), last_error = @Error,
                   attempts = greatest(0, attempts + @Attempt), locked_until = null, updated_at = now()
            where id = @Id and status = 'processing'
            returning 1
            """, new { Status = status, At = at, Error = error is { Length: > 500 } ? error[..500] : error, Attempt = attempt, item.Id }, CancellationToken.None);
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

        [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox job {Kind} {Id} ended {Status}: it needs a person (GET /api/clinics/{{clinicId}}/review)")]
        public static partial void JobEnded(ILogger logger, string kind, long id, string status);
    }
}

public static class OutboxServices
{
    /// <summary>The worker is a singleton so features can <see cref="Outbox.Signal"/> it after commit.</summary>
    public static IServiceCollection AddOutbox(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(Outbox))) return services;   // several features may ask for it
        services.AddOptions<OutboxOptions>()
            .Configure<IConfiguration>(OutboxOptions.Bind)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<OutboxOptions>>().Value);
        services.AddSingleton<Outbox>();
        services.AddHostedService(sp => sp.GetRequiredService<Outbox>());
        return services;
    }
}

/// <summary>Outbox tuning (FRONTDESK_OUTBOX_*). Windows per kind belong to each kind's handler
/// (e.g. <c>SmsOptions</c>); these bound the generic machinery.</summary>
public sealed class OutboxOptions
{
    /// <summary>First retry delay; doubles per attempt up to <see cref="RetryMaxSeconds"/>.</summary>
    [System.ComponentModel.DataAnnotations.Range(0.01, 3600)] public double RetryBaseSeconds { get; set; } = 2;

    /// <summary>Cap of the retry delay: during a long outage a job is tried this often until its window ends.</summary>
    [System.ComponentModel.DataAnnotations.Range(0.01, 86400)] public double RetryMaxSeconds { get; set; } = 600;

    /// <summary>A job whose handler keeps throwing (not a provider answer: a bug, a payload it cannot read) is given up after this.</summary>
    [System.ComponentModel.DataAnnotations.Range(0.0001, 8760)] public double MaxJobAgeHours { get; set; } = 48;

    /// <summary>A claimed job not finished within this belonged to an instance that died; another takes it over.
    /// Must exceed the longest handler call (the Twilio timeout).</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 3600)] public double LeaseSeconds { get; set; } = 120;

    /// <summary>How often the worker looks for due jobs when nothing woke it.</summary>
    [System.ComponentModel.DataAnnotations.Range(0.01, 60)] public double PollSeconds { get; set; } = 1;

    /// <summary>Base × 2^(attempts−1), capped, with ±20 % jitter so instances do not retry in step.</summary>
    public TimeSpan Backoff(int attempts)
    {
        var s = Math.Min(RetryBaseSeconds * Math.Pow(2, Math.Clamp(attempts - 1, 0, 30)), RetryMaxSeconds);
        return TimeSpan.FromSeconds(s * (0.8 + Random.Shared.NextDouble() * 0.4));
    }

    public static void Bind(OutboxOptions o, IConfiguration c)
    {
        c.GetSection("Frontdesk:Outbox").Bind(o);
        o.RetryBaseSeconds = Number(c["FRONTDESK_OUTBOX_RETRY_BASE_SECONDS"]) ?? o.RetryBaseSeconds;
        o.RetryMaxSeconds = Number(c["FRONTDESK_OUTBOX_RETRY_MAX_SECONDS"]) ?? o.RetryMaxSeconds;
        o.MaxJobAgeHours = Number(c["FRONTDESK_OUTBOX_MAX_JOB_AGE_HOURS"]) ?? o.MaxJobAgeHours;
        o.LeaseSeconds = Number(c["FRONTDESK_OUTBOX_LEASE_SECONDS"]) ?? o.LeaseSeconds;
        o.PollSeconds = Number(c["FRONTDESK_OUTBOX_POLL_SECONDS"]) ?? o.PollSeconds;
    }

    internal static double? Number(string? s) =>
        double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : null;
}
