using System.Diagnostics.Metrics;

namespace Frontdesk.Review;

/// <summary>Counts across clinics, no row contents: what needs a person, and how late the oldest due job is.</summary>
public sealed record OutboxCounts(long Review, long Failed, long Pending, double OldestPendingSeconds, DateTimeOffset At);

/// <summary>
/// Keeps the outbox's counts fresh for /healthz (detail "outbox") and the metrics
/// frontdesk.outbox.review, frontdesk.outbox.failed, frontdesk.outbox.pending and
/// frontdesk.outbox.oldest_pending_age (seconds): both read a snapshot, so neither queries per scrape.
/// </summary>
public sealed partial class OutboxMonitor : BackgroundService
{
    static readonly Meter Meter = new("Frontdesk");
    readonly Db _db;
    readonly ILogger<OutboxMonitor> _log;
    volatile OutboxCounts? _last;

    public OutboxMonitor(Db db, ILogger<OutboxMonitor> log)
    {
        _db = db;
        _log = log;
        Meter.CreateObservableGauge("frontdesk.outbox.review", () => _last?.Review ?? 0, description: "SMS and jobs held for a person");
        Meter.CreateObservableGauge("frontdesk.outbox.failed", () => _last?.Failed ?? 0, description: "SMS and jobs that failed and nobody has reviewed");
        Meter.CreateObservableGauge("frontdesk.outbox.pending", () => _last?.Pending ?? 0, description: "jobs due now and not done");
        Meter.CreateObservableGauge("frontdesk.outbox.oldest_pending_age", () => _last?.OldestPendingSeconds ?? 0, unit: "s",
            description: "how long the oldest due job has been waiting");
    }

    public static readonly TimeSpan Every = TimeSpan.FromSeconds(15);

    public OutboxCounts? Last => _last;

    public void Register(HealthDetails health) => health.Add("outbox", () => _last is { } c
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"review {c.Review}, failed {c.Failed}, pending {c.Pending}, oldest pending {c.OldestPendingSeconds:0} s (as of {c.At:HH:mm:ss}Z)")
        : "outbox: counting");

    public async Task<OutboxCounts> RefreshAsync(CancellationToken ct)
    {
        var rows = await _db.QueryOnceAsync<OutboxCounts>(RequestClaims.AsSystem(SystemPath.Monitoring), """
            select (select count(*) from sms_messages where status = 'review' and reviewed_at is null)
                 + (select count(*) from outbox where status = 'review' and kind <> 'sms'),
                   (select count(*) from sms_messages where status in ('failed', 'undelivered') and reviewed_at is null)
                 + (select count(*) from outbox where status = 'failed' and kind <> 'sms'),
                   (select count(*) from outbox where status in ('pending', 'processing') and next_attempt_at <= now()),
                   coalesce((select extract(epoch from now() - min(due_at))::float8 from outbox
                              where status in ('pending', 'processing') and next_attempt_at <= now()), 0),
                   now()
            """, null, ct);
        _last = rows[0];
        return rows[0];
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await RefreshAsync(stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.RefreshFailed(_log, e.GetType().Name);
            }
            try { await Task.Delay(Every, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox counts could not be refreshed ({Error}); health shows the last ones")]
        public static partial void RefreshFailed(ILogger logger, string error);
    }
}
