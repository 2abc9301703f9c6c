using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Frontdesk.Messaging;

namespace Frontdesk.Reception;

/// <summary>The week as the API shows it: per day a list of ["HH:mm", "HH:mm"] ranges (clinic local time).</summary>
public sealed record WeekView(string[][] Mon, string[][] Tue, string[][] Wed, string[][] Thu, string[][] Fri, string[][] Sat, string[][] Sun);

public sealed record ClosureView(DateOnly Date, string? Reason);

/// <summary>PUT body. <c>openingHours</c> is required (a day left out is closed); the rest go back to
/// their defaults when left out: no closures, no transfer number, warm transfers, the country's
/// emergency instruction and the built-in consultation offer.</summary>
public sealed record UpdateReception(JsonElement? OpeningHours = null, JsonElement? Closures = null, string? TransferNumber = null,
    string? TransferMode = null, string? EmergencyInstruction = null, string? ConsultationOffer = null);

/// <summary>GET answer: the settings as they apply now (defaults filled in, flagged), and what they mean right now.</summary>
public sealed record ReceptionView(WeekView OpeningHours, IReadOnlyList<ClosureView> Closures, string? TransferNumber, string TransferMode,
    string EmergencyInstruction, bool DefaultEmergencyInstruction, string ConsultationOffer, bool DefaultConsultationOffer,
    string Timezone, bool OpenNow, DateTimeOffset? NextOpening);

/// <summary>A clinic's reception settings, parsed. <see cref="EmergencyInstruction"/> and
/// <see cref="ConsultationOffer"/> are null when the clinic uses the defaults.</summary>
public sealed record ReceptionSettings(WeekHours Week, string? TransferNumber, string TransferMode, string? EmergencyInstruction,
    string? ConsultationOffer)
{
    public const string Warm = "warm", Blind = "blind";

    public static readonly ReceptionSettings Defaults = new(WeekHours.Closed, null, Warm, null, null);

    public const string DefaultConsultationOffer =
        "I'm not able to give medical advice over the phone. One of our clinicians can look at this properly at a consultation — " +
        "would you like me to find you a time? If you've had treatment with us and you're worried, I can also ask the team to call you back.";

    public string ConsultationOfferText => ConsultationOffer ?? DefaultConsultationOffer;

    public string EmergencyInstructionFor(string timezone) => EmergencyInstruction ?? DefaultEmergencyInstruction(SmsGuard.CountryForTimezone(timezone));

    /// <summary>The emergency number of the clinic's country — the country the SMS guard derives from
    /// the clinic's time zone (tzdata zone.tab): 999 in the UK (and NHS 111 for urgent advice), 911 in
    /// the US and Canada, 000 in Australia, 111 in New Zealand, and 112 — the EU's number, which also
    /// works from mobiles in most other countries — everywhere else.</summary>
    public static string DefaultEmergencyInstruction(string? country) => country switch
    {
        "GB" => "If this is a medical emergency, please hang up and call 999 now. For urgent medical advice that is not an emergency, call NHS 111.",
        "IM" or "JE" or "GG" => "If this is a medical emergency, please hang up and call 999 now.",
        "US" or "CA" or "PR" => "If this is a medical emergency, please hang up and call 911 now.",
        "AU" => "If this is a medical emergency, please hang up and call 000 now.",
        "NZ" => "If this is a medical emergency, please hang up and call 111 now.",
        _ => "If this is a medical emergency, please hang up and call 112 now.",
    };

    public ReceptionView View(string timezone, DateTimeOffset now)
    {
        var zone = ClinicTime.Zone(timezone);
        return new ReceptionView(ReceptionSettingsParser.ToView(Week),
            [.. Week.Closures.OrderBy(c => c.Key).Select(c => new ClosureView(c.Key, c.Value))],
            TransferNumber, TransferMode, EmergencyInstructionFor(timezone), EmergencyInstruction is null, ConsultationOfferText,
            ConsultationOffer is null, timezone, OpeningHours.IsOpen(Week, zone, now), OpeningHours.NextOpening(Week, zone, now));
    }
}

/// <summary>Validation of what an admin sends, and the stored JSON shape (the same as the API's).</summary>
public static partial class ReceptionSettingsParser
{
    public static readonly string[] DayKeys = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];   // indexed by DayOfWeek
    public const int MaxRangesPerDay = 8, MaxClosures = 400, MaxTextChars = 500, MaxReasonChars = 200;

    [GeneratedRegex(@"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")]
    private static partial Regex ClockTime();

    [GeneratedRegex(@"^\+[1-9][0-9]{6,14}$")]
    private static partial Regex E164();

    /// <summary>The settings, or the first thing wrong with them (a 400 detail).</summary>
    public static (ReceptionSettings? Settings, string? Error) Parse(UpdateReception body)
    {
        if (body.OpeningHours is not { ValueKind: JsonValueKind.Object } hours)
            return (null, "openingHours is required: an object with a list of [\"HH:mm\", \"HH:mm\"] ranges per day (mon … sun; a day left out is closed).");
        var (days, hoursError) = ParseWeek(hours);
        if (hoursError is not null) return (null, hoursError);
        var (closures, closuresError) = ParseClosures(body.Closures);
        if (closuresError is not null) return (null, closuresError);

        string? number = null;
        if (body.TransferNumber is { } n)
        {
            if (!E164().IsMatch(n) || Phone.ToE164(n) != n)
                return (null, "transferNumber must be a valid phone number in E.164 form, such as +442071234567.");
            number = n;
        }
        var mode = body.TransferMode ?? ReceptionSettings.Warm;
        if (mode is not (ReceptionSettings.Warm or ReceptionSettings.Blind))
            return (null, "transferMode is \"warm\" (the person who answers hears a summary first) or \"blind\".");
        if (Text(body.EmergencyInstruction, "emergencyInstruction") is { } e1) return (null, e1);
        if (Text(body.ConsultationOffer, "consultationOffer") is { } e2) return (null, e2);
        return (new ReceptionSettings(new WeekHours(days!, closures!), number, mode, body.EmergencyInstruction?.Trim(), body.ConsultationOffer?.Trim()), null);
    }

    static string? Text(string? value, string name) =>
        value is null ? null
        : string.IsNullOrWhiteSpace(value) || value.Trim().Length > MaxTextChars || HasControl(value)
            ? $"{name} is text of 1 to {MaxTextChars} characters without control characters (leave it out for the default)."
            : null;

    /// <summary>Control characters (NUL included; line breaks and tabs allowed) or a lone surrogate: not text.</summary>
    public static bool HasControl(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            else if (char.IsSurrogate(c) || (char.IsControl(c) && c is not ('\n' or '\t' or '\r'))) return true;
        }
        return false;
    }

    static (IReadOnlyList<OpenRange>[]? Days, string? Error) ParseWeek(JsonElement hours)
    {
        var days = new IReadOnlyList<OpenRange>[7];
        for (var i = 0; i < 7; i++) days[i] = [];
        foreach (var day in hours.EnumerateObject())
        {
            var index = Array.IndexOf(DayKeys, day.Name);
            if (index < 0) return (null, $"openingHours has an unknown day '{Cut(day.Name)}': use mon, tue, wed, thu, fri, sat, sun.");
            if (day.Value.ValueKind == JsonValueKind.Null) continue;
            if (day.Value.ValueKind != JsonValueKind.Array || day.Value.GetArrayLength() > MaxRangesPerDay)
                return (null, $"openingHours.{day.Name} is a list of at most {MaxRangesPerDay} [\"HH:mm\", \"HH:mm\"] ranges.");
            var ranges = new List<OpenRange>();
            foreach (var range in day.Value.EnumerateArray())
            {
                if (range.ValueKind != JsonValueKind.Array || range.GetArrayLength() != 2
                    || range[0].ValueKind != JsonValueKind.String || range[1].ValueKind != JsonValueKind.String)
                    return (null, $"openingHours.{day.Name}: each range is a pair of times, such as [\"09:00\", \"13:00\"].");
                var (from, to) = (range[0].GetString()!, range[1].GetString()!);
                if (Minutes(from, end: false) is not { } start || Minutes(to, end: true) is not { } end)
                    return (null, $"openingHours.{day.Name}: '{Cut(from)}'–'{Cut(to)}' is not a pair of times HH:mm (00:00 to 23:59; 24:00 may end a day).");
                if (end <= start)
                    return (null, $"openingHours.{day.Name}: the range {from}–{to} ends before it starts (a range cannot cross midnight; end one day at 24:00 and start the next at 00:00).");
                ranges.Add(new OpenRange(start, end));
            }
            ranges.Sort((a, b) => a.Start.CompareTo(b.Start));
            for (var r = 1; r < ranges.Count; r++)
                if (ranges[r].Start < ranges[r - 1].End)
                    return (null, $"openingHours.{day.Name}: the ranges {ranges[r - 1].From}–{ranges[r - 1].To} and {ranges[r].From}–{ranges[r].To} overlap.");
            days[index] = ranges;
        }
        return (days, null);
    }

    static int? Minutes(string s, bool end)
    {
        if (end && s == "24:00") return 24 * 60;
        if (!ClockTime().IsMatch(s)) return null;
        return int.Parse(s.AsSpan(0, 2), CultureInfo.InvariantCulture) * 60 + int.Parse(s.AsSpan(3, 2), CultureInfo.InvariantCulture);
    }

    static (Dictionary<DateOnly, string?>? Closures, string? Error) ParseClosures(JsonElement? value)
    {
        var closures = new Dictionary<DateOnly, string?>();
        if (value is null or { ValueKind: JsonValueKind.Null }) return (closures, null);
        if (value is not { ValueKind: JsonValueKind.Array } list || list.GetArrayLength() > MaxClosures)
            return (null, $"closures is a list of at most {MaxClosures} {{\"date\": \"YYYY-MM-DD\", \"reason\": \"…\"}} entries.");
        foreach (var c in list.EnumerateArray())
        {
            if (c.ValueKind != JsonValueKind.Object || !c.TryGetProperty("date", out var d) || d.ValueKind != JsonValueKind.String
                || !ClinicTime.TryParseDay(d.GetString(), out var date))
                return (null, "closures: each entry needs a date YYYY-MM-DD (the clinic's local date).");
            string? reason = null;
            if (c.TryGetProperty("reason", out var r) && r.ValueKind != JsonValueKind.Null)
            {
                if (r.ValueKind != JsonValueKind.String || r.GetString()!.Trim().Length > MaxReasonChars || HasControl(r.GetString()!))
                    return (null, $"closures: a reason is text of at most {MaxReasonChars} characters.");
                reason = r.GetString()!.Trim() is { Length: > 0 } t ? t : null;
            }
            if (!closures.TryAdd(date, reason)) return (null, $"closures lists {date:yyyy-MM-dd} twice.");
        }
        return (closures, null);
    }

    static string Cut(string s) => s.Length > 20 ? s[..20] : s;

    public static WeekView ToView(WeekHours week)
    {
        string[][] Day(DayOfWeek d) => [.. week.On(d).Select(r => new[] { r.From, r.To })];
        return new WeekView(Day(DayOfWeek.Monday), Day(DayOfWeek.Tuesday), Day(DayOfWeek.Wednesday), Day(DayOfWeek.Thursday),
            Day(DayOfWeek.Friday), Day(DayOfWeek.Saturday), Day(DayOfWeek.Sunday));
    }

    /// <summary>The stored JSON of the week and of the closures.</summary>
    public static (string Hours, string Closures) ToJson(WeekHours week) => (
        JsonSerializer.Serialize(DayKeys.ToDictionary(k => k, k => week.On((DayOfWeek)Array.IndexOf(DayKeys, k)).Select(r => new[] { r.From, r.To }))),
        JsonSerializer.Serialize(week.Closures.OrderBy(c => c.Key).Select(c => new { date = c.Key.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), reason = c.Value })));

    /// <summary>Settings from a stored row (written by <see cref="ToJson"/>, so valid; anything else reads as closed).</summary>
    public static ReceptionSettings FromRow(string? hours, string? closures, string? transferNumber, string? transferMode, string? emergency, string? offer)
    {
        using var h = JsonDocument.Parse(hours ?? "{}");
        using var c = JsonDocument.Parse(closures ?? "[]");
        var (days, _) = ParseWeek(h.RootElement);
        var (dates, _) = ParseClosures(c.RootElement);
        return new ReceptionSettings(days is null ? WeekHours.Closed : new WeekHours(days, dates ?? []), transferNumber,
            transferMode ?? ReceptionSettings.Warm, emergency, offer);
    }
}

/// <summary>Reads a clinic's reception settings in the caller's tenant session.</summary>
public static class ReceptionStore
{
    public sealed record Row(string? Hours, string? Closures, string? TransferNumber, string? TransferMode, string? Emergency, string? Offer);

    public const string Columns = "opening_hours::text, closures::text, transfer_number, transfer_mode, emergency_instruction, consultation_offer";

    public static async Task<ReceptionSettings> ReadAsync(DbSession s, Guid clinicId, CancellationToken ct) =>
        await s.QuerySingleOrDefaultAsync<Row>($"select {Columns} from reception_settings where clinic_id = @C", new { C = clinicId }, ct) is { } r
            ? FromRow(r)
            : ReceptionSettings.Defaults;

    public static ReceptionSettings FromRow(Row r) =>
        ReceptionSettingsParser.FromRow(r.Hours, r.Closures, r.TransferNumber, r.TransferMode, r.Emergency, r.Offer);
}
