using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace Frontdesk.Calendar;

/// <summary>Google Calendar sync settings (API.md: GOOGLE_APPLICATION_CREDENTIALS,
/// FRONTDESK_GOOGLE_API_BASE_URL; the rest are tuning knobs with production defaults).</summary>
public sealed class CalendarOptions
{
    /// <summary>Service-account JSON file; unset → calendar sync off.</summary>
    public string? CredentialsPath { get; set; }

    [Required] public string ApiBaseUrl { get; set; } = "https://www.googleapis.com";

    /// <summary>Every call to Google (token included) gives up after this long.</summary>
    [Range(0.1, 120)] public double TimeoutSeconds { get; set; } = 10;

    /// <summary>How often the worker looks for due work when no NOTIFY woke it.</summary>
    [Range(0.05, 600)] public double PollSeconds { get; set; } = 5;

    /// <summary>Periodic busy-time sync of each linked calendar (push channels only make it sooner).</summary>
    [Range(1, 86400)] public double SyncSeconds { get; set; } = 300;

    /// <summary>First retry delay after a transient failure; doubles up to RetryMaxSeconds.</summary>
    [Range(0.01, 3600)] public double RetryBaseSeconds { get; set; } = 2;

    [Range(0.01, 86400)] public double RetryMaxSeconds { get; set; } = 600;

    /// <summary>A job that has kept failing this long is given up: the booking's calendar status says
    /// 'failed' (the booking itself stands; a later change to it tries again).</summary>
    [Range(0.0001, 8760)] public double GiveUpHours { get; set; } = 72;

    /// <summary>How far ahead busy time is read.</summary>
    [Range(1, 365)] public int SyncDays { get; set; } = 60;

    public bool Enabled => !string.IsNullOrWhiteSpace(CredentialsPath);

    public TimeSpan Timeout => TimeSpan.FromSeconds(TimeoutSeconds);

    public TimeSpan Backoff(int attempts) =>
        TimeSpan.FromSeconds(Math.Min(RetryMaxSeconds, RetryBaseSeconds * Math.Pow(2, Math.Min(attempts, 30)))
                             * (0.8 + Random.Shared.NextDouble() * 0.4));

    public static void Bind(CalendarOptions o, IConfiguration c)
    {
        c.GetSection("Frontdesk:Calendar").Bind(o);
        o.CredentialsPath = c["GOOGLE_APPLICATION_CREDENTIALS"] ?? o.CredentialsPath;
        o.ApiBaseUrl = c["FRONTDESK_GOOGLE_API_BASE_URL"] ?? o.ApiBaseUrl;
        o.TimeoutSeconds = Number(c["FRONTDESK_GOOGLE_TIMEOUT_SECONDS"]) ?? o.TimeoutSeconds;
        o.PollSeconds = Number(c["FRONTDESK_CALENDAR_POLL_SECONDS"]) ?? o.PollSeconds;
        o.SyncSeconds = Number(c["FRONTDESK_CALENDAR_SYNC_SECONDS"]) ?? o.SyncSeconds;
        o.RetryBaseSeconds = Number(c["FRONTDESK_CALENDAR_RETRY_BASE_SECONDS"]) ?? o.RetryBaseSeconds;
        o.RetryMaxSeconds = Number(c["FRONTDESK_CALENDAR_RETRY_MAX_SECONDS"]) ?? o.RetryMaxSeconds;
        o.GiveUpHours = Number(c["FRONTDESK_CALENDAR_GIVE_UP_HOURS"]) ?? o.GiveUpHours;
        if (int.TryParse(c["FRONTDESK_CALENDAR_SYNC_DAYS"], CultureInfo.InvariantCulture, out var days)) o.SyncDays = days;
    }

    static double? Number(string? s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
}
