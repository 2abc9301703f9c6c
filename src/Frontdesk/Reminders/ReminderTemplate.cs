using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Frontdesk.FollowUp;

namespace Frontdesk.Reminders;

/// <summary>
/// The reminder text: a clinic's template with {{patientName}} {{when}} {{practitioner}} {{clinicName}}
/// {{manageLink}}, or <see cref="Default"/>. The reply words it offers are the ones Frontdesk answers
/// (C to confirm, R to reschedule: Inbox/ReplyWords.cs); cancelling is done through the manage link,
/// never by a reply word — Twilio itself intercepts STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT,
/// REVOKE and OPTOUT on long codes and opts the patient out of every message.
/// </summary>
public static partial class ReminderTemplate
{
    /// <summary>GSM-7 only, so the text costs two segments with a typical link.</summary>
    public const string Default =
        "Hi {{patientName}}, a reminder of your appointment at {{clinicName}} on {{when}} with {{practitioner}}. "
        + "Reply C to confirm or R to reschedule. To change or cancel: {{manageLink}}";

    public static readonly IReadOnlySet<string> Known =
        new HashSet<string>(["patientName", "when", "practitioner", "clinicName", "manageLink"], StringComparer.Ordinal);

    /// <summary>Why a clinic's template cannot be used, or null when it can.</summary>
    public static string? Problem(string template)
    {
        if (template.Length is 0 or > SmsTextLimit) return $"template is 1–{SmsTextLimit} characters (Twilio's limit).";
        if (SmsTemplate.UnknownPlaceholders(template, Known) is [_, ..] unknown)
            return $"Unknown placeholders: {string.Join(", ", unknown)}. Known: {string.Join(", ", Known)}.";
        if (OffersTwilioKeyword().Match(template) is { Success: true } m)
            return $"The template asks the patient to send '{m.Groups[1].Value.ToUpperInvariant()}': Twilio treats it as an opt-out keyword and stops "
                   + "every message to them. Offer the reply words C (confirm) and R (reschedule), and the {{manageLink}} to cancel.";
        return null;
    }

    const int SmsTextLimit = Messaging.SmsText.MaxLength;

    /// <summary>The text for one reminder; <paramref name="patientName"/> only if it reads as a name.</summary>
    public static string Render(string? template, string? patientName, DateTimeOffset startsAt, TimeZoneInfo zone, string practitioner,
        string clinicName, string manageLink) =>
        Messaging.SmsText.Fit(SmsTemplate.Render(template ?? Default, new Dictionary<string, string?>
        {
            ["patientName"] = FollowUpPlanner.SmsName(patientName?.Trim()) ?? "there",
            ["when"] = ClinicTime.Spoken(startsAt, zone),
            ["practitioner"] = practitioner,
            ["clinicName"] = clinicName,
            ["manageLink"] = manageLink,
        }));

    // "Reply CANCEL", "text END to…", "send 'quit'": an instruction to send one of Twilio's opt-out
    // keywords other than STOP (offering STOP to opt out is what it is for).
    [GeneratedRegex(@"\b(?:reply|replying|text|send|respond)\b(?:\s+(?:with|us))?\s+[""'“‘]?(CANCEL|STOPALL|UNSUBSCRIBE|END|QUIT|REVOKE|OPTOUT)\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex OffersTwilioKeyword();
}

/// <summary>ISO 8601 durations as reminder offsets: P1D, PT2H, P7D, P1DT12H, PT30M (weeks, days, hours,
/// minutes; no years or months, whose length varies, and no seconds).</summary>
public static partial class IsoDuration
{
    public static TimeSpan? Parse(string? text)
    {
        if (text is null || Pattern().Match(text) is not { Success: true } m) return null;
        if (m.Groups.Values.Skip(1).All(g => !g.Success)) return null;                       // "P" alone
        if (text.Contains('T', StringComparison.Ordinal) && !m.Groups["h"].Success && !m.Groups["m"].Success) return null;   // "P1DT"
        int Part(string name) => m.Groups[name].Success ? int.Parse(m.Groups[name].Value, CultureInfo.InvariantCulture) : 0;
        return TimeSpan.FromDays(Part("w") * 7 + Part("d")) + TimeSpan.FromHours(Part("h")) + TimeSpan.FromMinutes(Part("m"));
    }

    /// <summary>The canonical form: P7D, PT2H, P1DT2H30M.</summary>
    public static string Format(TimeSpan t)
    {
        var sb = new StringBuilder("P");
        if (t.Days > 0) sb.Append(CultureInfo.InvariantCulture, $"{t.Days}D");
        if (t.Hours > 0 || t.Minutes > 0 || t == TimeSpan.Zero) sb.Append('T');
        if (t.Hours > 0) sb.Append(CultureInfo.InvariantCulture, $"{t.Hours}H");
        if (t.Minutes > 0 || t == TimeSpan.Zero) sb.Append(CultureInfo.InvariantCulture, $"{t.Minutes}M");
        return sb.ToString();
    }

    [GeneratedRegex(@"^P(?:(?<w>\d{1,3})W)?(?:(?<d>\d{1,3})D)?(?:T(?:(?<h>\d{1,4})H)?(?:(?<m>\d{1,5})M)?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
