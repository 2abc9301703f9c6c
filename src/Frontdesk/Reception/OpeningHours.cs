using System.Globalization;

namespace Frontdesk.Reception;

/// <summary>One opening range of a day, in minutes after local midnight: [Start, End), End up to 1440 (24:00).</summary>
public readonly record struct OpenRange(int Start, int End)
{
    public string From => Clock(Start);
    public string To => Clock(End);

    public static string Clock(int minutes) => $"{minutes / 60:00}:{minutes % 60:00}";
}

/// <summary>A clinic's week: the opening ranges of each day (sorted, not overlapping) and its closed dates.</summary>
public sealed record WeekHours(IReadOnlyList<OpenRange>[] Days, IReadOnlyDictionary<DateOnly, string?> Closures)
{
    public static readonly WeekHours Closed = new([.. Enumerable.Range(0, 7).Select(_ => (IReadOnlyList<OpenRange>)[])], new Dictionary<DateOnly, string?>());

    public IReadOnlyList<OpenRange> On(DayOfWeek day) => Days[(int)day];

    public bool HasAnyHours => Days.Any(d => d.Count > 0);
}

/// <summary>
/// The one place that says whether a clinic is open and when it opens next, in the clinic's own
/// time zone. Opening hours are wall-clock times, so they are compared with the local wall clock:
/// on the day clocks go forward a range that starts in the skipped hour starts at the first minute
/// that exists, and on the day they go back a repeated local time is open (or closed) both times.
/// A closure closes its whole local date.
/// </summary>
public static class OpeningHours
{
    /// <summary>How far ahead the next opening is looked for (long closures included).</summary>
    public const int HorizonDays = 400;

    public static bool IsOpen(WeekHours week, TimeZoneInfo zone, DateTimeOffset at)
    {
        var local = TimeZoneInfo.ConvertTime(at, zone);
        if (week.Closures.ContainsKey(DateOnly.FromDateTime(local.DateTime))) return false;
        var minute = local.Hour * 60 + local.Minute;
        foreach (var r in week.On(local.DayOfWeek))
            if (r.Start <= minute && minute < r.End) return true;
        return false;
    }

    /// <summary>The first instant after <paramref name="now"/> at which the clinic goes from closed to
    /// open (a range that continues an open one — 13:00 after a range ending 13:00, or 00:00 after
    /// 24:00 — is not an opening). Null when the clinic never opens within <see cref="HorizonDays"/>.</summary>
    public static DateTimeOffset? NextOpening(WeekHours week, TimeZoneInfo zone, DateTimeOffset now)
    {
        if (!week.HasAnyHours) return null;
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, zone).DateTime);
        for (var d = 0; d <= HorizonDays; d++)
        {
            var date = today.AddDays(d);
            if (week.Closures.ContainsKey(date)) continue;
            foreach (var r in week.On(date.DayOfWeek))
            {
                var at = Instant(date, r.Start, zone);
                if (at <= now || DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(at, zone).DateTime) != date) continue;
                if (IsOpen(week, zone, at.AddMinutes(-1))) continue;
                return at;
            }
        }
        return null;
    }

    /// <summary>The instant of a local wall-clock time: a time skipped by a clock change moves to the
    /// first minute that exists; a time that happens twice is its first occurrence.</summary>
    public static DateTimeOffset Instant(DateOnly date, int minute, TimeZoneInfo zone)
    {
        var wall = date.ToDateTime(TimeOnly.MinValue).AddMinutes(minute);
        while (zone.IsInvalidTime(wall)) wall = wall.AddMinutes(1);
        var offset = zone.IsAmbiguousTime(wall) ? zone.GetAmbiguousTimeOffsets(wall).Max() : zone.GetUtcOffset(wall);
        return new DateTimeOffset(wall, offset);
    }

    /// <summary>"today at 14:00", "tomorrow at 09:00", "on Monday 30 March at 09:00" — as the caller hears it.</summary>
    public static string SpokenRelative(DateTimeOffset at, DateTimeOffset now, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(at, zone);
        var days = DateOnly.FromDateTime(local.DateTime).DayNumber - DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, zone).DateTime).DayNumber;
        var time = local.ToString("HH:mm", CultureInfo.InvariantCulture);
        return days switch
        {
            0 => $"today at {time}",
            1 => $"tomorrow at {time}",
            _ => "on " + local.ToString("dddd d MMMM", CultureInfo.InvariantCulture) + $" at {time}",
        };
    }
}
