using System.ComponentModel.DataAnnotations;

namespace Frontdesk.StaffConsole;

/// <summary>The staff console's sign-in and session limits (configuration section <c>Console</c>).</summary>
public sealed class ConsoleOptions
{
    /// <summary>Wrong passwords or codes in a row before the account locks.</summary>
    [Range(1, 100)] public int MaxFailedAttempts { get; set; } = 5;

    [Range(1, 24 * 60)] public int LockoutMinutes { get; set; } = 15;

    /// <summary>A session unused this long ends.</summary>
    [Range(1, 24 * 60)] public int IdleMinutes { get; set; } = 30;

    /// <summary>A session ends this long after sign-in, however busy.</summary>
    [Range(1, 24 * 30)] public int AbsoluteHours { get; set; } = 12;

    [Range(8, 128)] public int MinPasswordLength { get; set; } = 12;

    /// <summary>Sign-in form posts per client address per minute (per instance), before lockout even counts.</summary>
    [Range(1, 10_000)] public int SignInPermitsPerMinute { get; set; } = 30;
}
