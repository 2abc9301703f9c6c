using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using System.Globalization;
using Frontdesk.Knowledge;

namespace Frontdesk.Audit;

/// <summary>Audit sealer tuning (section <c>Audit</c>, e.g. <c>Audit__SealIntervalMilliseconds</c>).</summary>
public sealed class AuditOptions
{
    /// <summary>How often the sealer looks for committed, unsealed rows when the last pass found little.</summary>
    [Range(10, 60_000)] public int SealIntervalMilliseconds { get; set; } = 200;

    /// <summary>Most rows of one clinic sealed in one transaction; a full batch is followed at once by the next.</summary>
    [Range(1, 100_000)] public int SealBatch { get; set; } = 1000;
}

/// <summary>
/// Links committed audit rows into each clinic's hash chain shortly after commit (ARCHITECTURE
/// decision 14; SQL in …_audit_sealed_after_commit.sql). Writers never wait for it: a row is
/// inserted unsealed and this worker, on any number of instances, seals it — one sealer per clinic at
/// a time (a transaction-scoped advisory lock taken with try, so a busy clinic is skipped, not
/// waited for). Runs as <see cref="SystemPath.AuditSealer"/>; the sealing functions are security
/// definer, so the API roles keep INSERT and SELECT only on the trail.
/// </summary>
public sealed partial class AuditSealer(Db db, AuditOptions options, ILogger<AuditSealer> log) : BackgroundService
{
    static readonly Counter<long> SealedRows = FrontdeskMeter.Meter.CreateCounter<long>("frontdesk.audit.sealed",
        unit: "{row}", description: "Audit rows linked into their clinic's hash chain");

    static readonly RequestClaims Claims = RequestClaims.AsSystem(SystemPath.AuditSealer);

    // The last backlog seen by a pass in this process (the backlog is the database's, whichever
    // instance looked). The age is computed when read, so it keeps growing while sealing is stuck.
    static long s_unsealed;
    static long s_oldestTicks;   // UTC ticks of the oldest unsealed row; 0 when none

    static AuditSealer()
    {
        FrontdeskMeter.Meter.CreateObservableGauge("frontdesk.audit.unsealed", () => Interlocked.Read(ref s_unsealed),
            unit: "{row}", description: "Committed audit rows not yet linked into the hash chain (all clinics), as of the last sealing pass");
        FrontdeskMeter.Meter.CreateObservableGauge("frontdesk.audit.unsealed_age", () => OldestAge.TotalSeconds,
            unit: "s", description: "How long the oldest audit row not yet linked into the hash chain has waited");
    }

    long _lastPassTicks;

    /// <summary>Unsealed rows at the last pass.</summary>
    public static long Unsealed => Interlocked.Read(ref s_unsealed);

    /// <summary>How long the oldest unsealed row (as of the last pass) has waited until now.</summary>
    public static TimeSpan OldestAge => Interlocked.Read(ref s_oldestTicks) is var t and > 0
        ? DateTime.UtcNow - new DateTime(t, DateTimeKind.Utc) : TimeSpan.Zero;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(options.SealIntervalMilliseconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            var more = false;
            try
            {
                more = await SealOnceAsync(stoppingToken);
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
            {
                // Rows stay unsealed and the backlog gauge grows; the next pass picks them up.
                Log.PassFailed(log, e.GetType().Name);
            }
            if (more) continue;
            try { await Task.Delay(interval, stoppingToken); }
            catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>One pass: seals what every clinic has ready, then reads the backlog. True when some
    /// clinic had more than a batch waiting.</summary>
    public async Task<bool> SealOnceAsync(CancellationToken ct)
    {
        var passes = await db.QueryOnceAsync<SealedClinic>(Claims,
            "select clinic_id, sealed from audit_seal_pending(@Limit)", new { Limit = options.SealBatch }, ct);
        var total = passes.Sum(p => (long)p.Sealed);
        if (total > 0) SealedRows.Add(total);
        var backlog = await db.QueryOnceAsync<Backlog>(Claims, "select unsealed, oldest from audit_backlog()", null, ct);
        if (backlog is [var b])
        {
            Interlocked.Exchange(ref s_unsealed, b.Unsealed);
            Interlocked.Exchange(ref s_oldestTicks, b.Oldest?.UtcTicks ?? 0);
        }
        Interlocked.Exchange(ref _lastPassTicks, DateTime.UtcNow.Ticks);
        return passes.Any(p => p.Sealed >= options.SealBatch);
    }

    /// <summary>The health line, read from the database so it is true even when no sealer runs here.</summary>
    public async Task<string> DescribeBacklogAsync(CancellationToken ct)
    {
        var rows = await db.QueryOnceAsync<Backlog>(RequestClaims.AsSystem(SystemPath.Health), "select unsealed, oldest from audit_backlog()", null, ct);
        var b = rows.Count == 1 ? rows[0] : new Backlog(0, null);
        var age = b.Oldest is { } at ? Math.Max(0, (DateTimeOffset.UtcNow - at).TotalSeconds) : 0;
        var last = Interlocked.Read(ref _lastPassTicks) is var t and > 0
            ? (DateTime.UtcNow - new DateTime(t, DateTimeKind.Utc)).TotalSeconds.ToString("F1", CultureInfo.InvariantCulture) + " s ago"
            : "not yet on this instance";
        return string.Create(CultureInfo.InvariantCulture,
            $"unsealed {b.Unsealed} {(b.Unsealed == 1 ? "row" : "rows")}, oldest {age:F1} s; last sealing pass {last}");
    }

    sealed record SealedClinic(Guid ClinicId, int Sealed);

    sealed record Backlog(long Unsealed, DateTimeOffset? Oldest);

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Audit sealing pass failed ({ExceptionType}); rows stay unsealed until the next pass")]
        public static partial void PassFailed(ILogger logger, string exceptionType);
    }
}

public static class AuditServices
{
    /// <summary>The sealer is a singleton so /healthz, the gauges and the bench can reach it.</summary>
    public static IServiceCollection AddAuditSealer(this IServiceCollection services)
    {
        services.AddOptions<AuditOptions>().BindConfiguration("Audit").ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<AuditOptions>>().Value);
        services.AddSingleton<AuditSealer>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditSealer>());
        return services;
    }

    public static void MapAuditHealth(this IEndpointRouteBuilder app)
    {
        var sealer = app.ServiceProvider.GetRequiredService<AuditSealer>();
        app.ServiceProvider.GetRequiredService<HealthDetails>().Add("audit", sealer.DescribeBacklogAsync);
    }
}
