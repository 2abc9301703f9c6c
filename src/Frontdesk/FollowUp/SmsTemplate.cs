using System.Text;
using System.Text.RegularExpressions;

namespace Frontdesk.FollowUp;

/// <summary>Per-clinic SMS templates with {{patientName}} {{procedure}} {{pdfLink}} {{bookingLink}}
/// {{clinicName}} {{agentName}}; unknown placeholders are left as written.</summary>
public static partial class SmsTemplate
{
    /// <summary>The seed's text, word for word (a clinic can sign with {{agentName}} in its own template).</summary>
    public const string Default =
        "Hi {{patientName}}, \n\nThanks for chatting with us about {{procedure}}! \nWe know you were busy, so here's your guide to review:\n{{pdfLink}}\n\nLet's schedule your consultation:\n{{bookingLink}}\n\n- Sarah from {{clinicName}}";

    public static string Render(string template, IReadOnlyDictionary<string, string?> values) =>
        Placeholder().Replace(template, m => values.TryGetValue(m.Groups[1].Value, out var v) ? v ?? "" : m.Value);

    /// <summary>"rhinoplasty-guide" for Rhinoplasty: the template name the follow-up records.</summary>
    public static string NameFor(string procedure)
    {
        var sb = new StringBuilder();
        foreach (var ch in procedure.ToLowerInvariant())
            sb.Append(char.IsLetterOrDigit(ch) ? ch : '-');
        return Dashes().Replace(sb.ToString(), "-").Trim('-') + "-guide";
    }

    public static readonly IReadOnlySet<string> Known =
        new HashSet<string>(["patientName", "procedure", "pdfLink", "bookingLink", "clinicName", "agentName"], StringComparer.Ordinal);

    /// <summary>Placeholders a clinic's template names that no follow-up fills (a typo would go out verbatim).</summary>
    public static IReadOnlyList<string> UnknownPlaceholders(string template) => UnknownPlaceholders(template, Known);

    /// <summary>The same check against another template's placeholders (reminders have their own).</summary>
    public static IReadOnlyList<string> UnknownPlaceholders(string template, IReadOnlySet<string> known) =>
        Placeholder().Matches(template).Select(m => m.Groups[1].Value).Where(n => !known.Contains(n)).Distinct().ToList();

    [GeneratedRegex(@"\{\{\s*(\w+)\s*\}\}")]
    private static partial Regex Placeholder();

    [GeneratedRegex("-{2,}")]
    private static partial Regex Dashes();
}

/// <summary>Optional per-clinic quiet hours, in the clinic's timezone.</summary>
public static class QuietHours
{
    /// <summary><paramref name="now"/> when sending is allowed, else the first minute after the quiet window.</summary>
    public static DateTimeOffset NextAllowed(DateTimeOffset now, TimeOnly? start, TimeOnly? end, TimeZoneInfo zone)
    {
        if (start is not { } s || end is not { } e || s == e) return now;
        var local = TimeZoneInfo.ConvertTime(now, zone);
        var t = TimeOnly.FromDateTime(local.DateTime);
        var quiet = s < e ? t >= s && t < e : t >= s || t < e;
        if (!quiet) return now;
        var day = DateOnly.FromDateTime(local.DateTime);
        if (t >= e) day = day.AddDays(1);   // the window wraps midnight and ends tomorrow
        var wall = day.ToDateTime(e);
        // A wall-clock time skipped by a DST jump: move forward to a valid one.
        while (zone.IsInvalidTime(wall)) wall = wall.AddMinutes(1);
        return new DateTimeOffset(wall, zone.GetUtcOffset(wall)).ToUniversalTime();
    }
}
