using System.Globalization;

namespace Frontdesk.Platform;

/// <summary>Times as a clinic's callers hear and read them.</summary>
public static class ClinicTime
{
    public static TimeZoneInfo Zone(string? timezone) =>
        timezone is not null && TimeZoneInfo.TryFindSystemTimeZoneById(timezone, out var tz) ? tz : TimeZoneInfo.Utc;

    public static bool IsKnownZone(string timezone) => TimeZoneInfo.TryFindSystemTimeZoneById(timezone, out _);

    public static DateTimeOffset Local(DateTimeOffset utc, TimeZoneInfo zone) => TimeZoneInfo.ConvertTime(utc, zone);

    /// <summary>The start of a day in the clinic's zone (a midnight skipped by a clock change: the first valid minute).</summary>
    public static DateTimeOffset StartOfDay(DateOnly day, TimeZoneInfo zone)
    {
        var wall = day.ToDateTime(TimeOnly.MinValue);
        while (zone.IsInvalidTime(wall)) wall = wall.AddMinutes(1);
        return new DateTimeOffset(wall, zone.GetUtcOffset(wall)).ToUniversalTime();
    }

    /// <summary>Years a date from a client may name. Outside them a day's arithmetic (the next day, a
    /// 30-day window, a zone's offset) runs off <see cref="DateTime"/>'s range and would throw: a 500 for
    /// what a client sent. No clinic books, waits or reports beyond these.</summary>
    public const int FirstYear = 1900, LastYear = 2199;

    /// <summary>A client's ISO date (yyyy-MM-dd) within <see cref="FirstYear"/>–<see cref="LastYear"/>.</summary>
    public static bool TryParseDay(string? text, out DateOnly day) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out day)
        && day.Year is >= FirstYear and <= LastYear;

    /// <summary>An instant within <see cref="FirstYear"/>–<see cref="LastYear"/> (see there).</summary>
    public static bool Plausible(DateTimeOffset at) => at.UtcDateTime.Year is >= FirstYear and <= LastYear;

    /// <summary>"Tuesday 3 March at 10:30" in the clinic's zone.</summary>
    public static string Spoken(DateTimeOffset at, TimeZoneInfo zone)
    {
        var local = Local(at, zone);
        return local.ToString("dddd d MMMM 'at' HH:mm", CultureInfo.InvariantCulture);
    }
}
