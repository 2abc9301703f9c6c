using System.Globalization;
using Frontdesk.Calls;

namespace Frontdesk.Waitlist;

/// <summary>Reading what someone asked to wait for, shared by the staff API and the join_waitlist tool.</summary>
static class WaitlistInput
{
    /// <summary>A bound given as a clinic-local date (<c>2026-12-03</c>: the start of that day, or of the next
    /// day for an inclusive end) or as an instant with its offset. Null when absent; false when unreadable.</summary>
    public static bool TryBound(string? text, TimeZoneInfo zone, bool end, out DateTimeOffset? bound)
    {
        bound = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        var t = text.Trim();
        if (t.Length > 40) return false;
        if (ClinicTime.TryParseDay(t, out var day))
        {
            bound = CheckAvailabilityTool.Start(end ? day.AddDays(1) : day, zone);
            return true;
        }
        // An instant must say its offset: a bare local time would be read in the server's zone.
        if (DateTimeOffset.TryParse(t, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at) && ClinicTime.Plausible(at)
            && (t.EndsWith('Z') || t.EndsWith('z') || t.LastIndexOfAny(['+', '-']) > 10))
        {
            bound = at.ToUniversalTime();
            return true;
        }
        return false;
    }

    /// <summary>Why a window cannot be waited for, or null: the end must be ahead and after the start, both within a year.</summary>
    public static string? WindowProblem(DateTimeOffset? from, DateTimeOffset? to, DateTimeOffset now)
    {
        if (from is { } f && to is { } t && t <= f) return "to must be after from.";
        if (to is { } end && end <= now) return "to is in the past: the window has ended.";
        var horizon = now.AddDays(366);
        if (from > horizon || to > horizon) return "The window must lie within the next year.";
        return null;
    }

    /// <summary>The entry's latest date: the end of its window, else <see cref="WaitlistOptions.DefaultDays"/> after it opens.</summary>
    public static DateTimeOffset ExpiresAt(DateTimeOffset? from, DateTimeOffset? to, DateTimeOffset now, WaitlistOptions options) =>
        to ?? (from > now ? from.Value : now).AddDays(options.DefaultDays);
}
