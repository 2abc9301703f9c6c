using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace Frontdesk.Calls;

/// <summary>Vapi intake and reconciliation settings (API.md: FRONTDESK_VAPI_API_BASE_URL; the rest are
/// tuning knobs with production defaults). Section <c>Frontdesk:Vapi</c> or the variables below.</summary>
public sealed class VapiOptions
{
    /// <summary>Vapi's REST API, asked for the calls whose end-of-call report never arrived.</summary>
    [Required] public string ApiBaseUrl { get; set; } = "https://api.vapi.ai";

    /// <summary>How often each clinic with a Vapi API key is reconciled; 0 → this instance does not reconcile.</summary>
    [Range(0, 86400)] public double ReconcileSeconds { get; set; } = 300;

    /// <summary>How far back each run asks for calls (by creation time).</summary>
    [Range(0.01, 720)] public double ReconcileLookbackHours { get; set; } = 24;

    /// <summary>A call that ended less than this long ago is left to its webhook.</summary>
    [Range(0, 86400)] public double ReconcileGraceSeconds { get; set; } = 120;

    /// <summary>First retry after a failed run (Vapi down, key refused); doubles up to ReconcileSeconds.</summary>
    [Range(0.01, 86400)] public double ReconcileRetryBaseSeconds { get; set; } = 30;

    /// <summary>Longest sleep of the worker when nothing is due and nothing woke it.</summary>
    [Range(0.01, 3600)] public double ReconcilePollSeconds { get; set; } = 30;

    /// <summary>Vapi's limit per list request (its maximum is 1000) and how many pages a run reads.</summary>
    [Range(1, 1000)] public int ReconcilePageLimit { get; set; } = 100;

    [Range(1, 1000)] public int ReconcileMaxPages { get; set; } = 50;

    /// <summary>Every request to Vapi gives up after this long.</summary>
    [Range(0.1, 300)] public double TimeoutSeconds { get; set; } = 15;

    /// <summary>How long a duplicate waits for the first delivery of the same message before it is
    /// answered 503 with Retry-After.</summary>
    [Range(0.01, 60)] public double DuplicateWaitSeconds { get; set; } = 5;

    public bool Reconciles => ReconcileSeconds > 0;
    public TimeSpan DuplicateWait => TimeSpan.FromSeconds(DuplicateWaitSeconds);
    public TimeSpan Interval => TimeSpan.FromSeconds(ReconcileSeconds);

    /// <summary>After <paramref name="failures"/> failed runs in a row: base × 2^(n−1), at most the interval, ±20 %.</summary>
    public TimeSpan Backoff(int failures) =>
        TimeSpan.FromSeconds(Math.Min(Math.Max(ReconcileSeconds, ReconcileRetryBaseSeconds),
                                      ReconcileRetryBaseSeconds * Math.Pow(2, Math.Clamp(failures - 1, 0, 30)))
                             * (0.8 + Random.Shared.NextDouble() * 0.4));

    public static void Bind(VapiOptions o, IConfiguration c)
    {
        c.GetSection("Frontdesk:Vapi").Bind(o);
        o.ApiBaseUrl = c["FRONTDESK_VAPI_API_BASE_URL"] ?? o.ApiBaseUrl;
        o.ReconcileSeconds = Number(c["FRONTDESK_VAPI_RECONCILE_SECONDS"]) ?? o.ReconcileSeconds;
        o.ReconcileLookbackHours = Number(c["FRONTDESK_VAPI_RECONCILE_LOOKBACK_HOURS"]) ?? o.ReconcileLookbackHours;
        o.ReconcileGraceSeconds = Number(c["FRONTDESK_VAPI_RECONCILE_GRACE_SECONDS"]) ?? o.ReconcileGraceSeconds;
        o.ReconcileRetryBaseSeconds = Number(c["FRONTDESK_VAPI_RECONCILE_RETRY_BASE_SECONDS"]) ?? o.ReconcileRetryBaseSeconds;
        o.ReconcilePollSeconds = Number(c["FRONTDESK_VAPI_RECONCILE_POLL_SECONDS"]) ?? o.ReconcilePollSeconds;
        o.TimeoutSeconds = Number(c["FRONTDESK_VAPI_TIMEOUT_SECONDS"]) ?? o.TimeoutSeconds;
        o.DuplicateWaitSeconds = Number(c["FRONTDESK_VAPI_DUPLICATE_WAIT_SECONDS"]) ?? o.DuplicateWaitSeconds;
        if (int.TryParse(c["FRONTDESK_VAPI_RECONCILE_PAGE_LIMIT"], CultureInfo.InvariantCulture, out var limit)) o.ReconcilePageLimit = limit;
    }

    public static bool HasValidBaseUrl(VapiOptions o) =>
        Uri.TryCreate(o.ApiBaseUrl, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttps || u.Scheme == Uri.UriSchemeHttp);

    static double? Number(string? s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
}
