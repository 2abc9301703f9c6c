using System.Globalization;
using PhoneNumbers;

namespace Frontdesk.Messaging;

/// <summary>Whether one SMS may be enqueued (issue 14).</summary>
public abstract record SmsVerdict
{
    public sealed record Allowed : SmsVerdict;

    /// <summary>Refused: <paramref name="Reason"/> is <c>country_not_allowed</c> or <c>quota_exceeded</c>;
    /// <paramref name="Detail"/> is safe to show and to store as the message's error; quota refusals
    /// say when the clinic's day turns.</summary>
    public sealed record Refused(string Reason, string Detail, TimeSpan? RetryAfter) : SmsVerdict
    {
        public const string CountryNotAllowed = "country_not_allowed";
        public const string QuotaExceeded = "quota_exceeded";

        /// <summary>The API answer: 422 <c>sms-country-not-allowed</c>, or 429 <c>sms-quota-exceeded</c>
        /// with Retry-After.</summary>
        public ProblemHttpResult Problem(HttpContext http)
        {
            if (Reason == QuotaExceeded)
            {
                http.Response.Headers.RetryAfter = ((long)Math.Ceiling(RetryAfter?.TotalSeconds ?? 60)).ToString(CultureInfo.InvariantCulture);
                return Problems.Problem(429, Problems.SmsQuotaExceeded, "The clinic's daily SMS quota is used up", Detail);
            }
            return Problems.Problem(422, Problems.SmsCountryNotAllowed, "SMS to this country are not allowed for this clinic", Detail);
        }
    }
}

/// <summary>A clinic's SMS limits as stored and as they apply.</summary>
public sealed record SmsLimits(IReadOnlyList<string> AllowedCountries, bool DefaultCountries, int DailyQuota, string Timezone);

/// <summary>
/// The one check every SMS passes before it is enqueued (issue 14): the destination's country must be
/// one the clinic allows (default: its own — the country of its timezone and of the number it sends
/// from), and the clinic's daily quota (default 500 per local day) must not be used up. Call
/// <see cref="CheckAsync"/> in the transaction that inserts the <c>sms_messages</c> row, right before
/// the insert: an allowed message takes one unit of the day's quota under a row lock (one of up to 16
/// stripes, so a clinic's senders do not queue behind each other), so concurrent senders cannot exceed
/// it, and a rolled-back message gives its unit back. A refused message from a
/// webhook or a worker is stored as <c>failed</c> with the verdict's detail (never silently dropped);
/// an API caller gets <see cref="SmsVerdict.Refused.Problem"/>.
/// </summary>
public sealed class SmsGuard(TwilioOptions twilio)
{
    public const int DefaultDailyQuota = 500;

    sealed record ClinicRow(string Timezone, string? SmsFrom, string[]? AllowedCountries, int DailyQuota);

    const string ClinicSql = "select timezone, sms_from, sms_allowed_countries, sms_daily_quota from clinics where id = @ClinicId";

    // A unit from one of the day's stripes that no other transaction holds (…_sms_quota_stripes.sql):
    // a clinic's messages do not queue behind each other's uncommitted units (issue 16); the total
    // never exceeds the quota; a quota of 0 takes nothing.
    const string TakeSql = "select public.sms_take_unit(@ClinicId, (now() at time zone @Timezone)::date, @Quota)";

    public async Task<SmsVerdict> CheckAsync(DbSession s, Guid clinicId, string toE164, CancellationToken ct)
    {
        var clinic = await s.QuerySingleOrDefaultAsync<ClinicRow>(ClinicSql, new { ClinicId = clinicId }, ct)
                     ?? throw new InvalidOperationException("The clinic is not visible to the session's claims.");
        var limits = Limits(clinic);
        var country = CountryOf(toE164);
        if (country is null || !limits.AllowedCountries.Contains(country))
            return new SmsVerdict.Refused(SmsVerdict.Refused.CountryNotAllowed,
                $"Messages to {country ?? "this number"} are not allowed for this clinic (allowed: {Describe(limits.AllowedCountries)}). "
                + "An admin can change this with PUT /api/clinics/{clinicId}/sms.", null);

        var taken = await s.QuerySingleOrDefaultAsync<bool>(TakeSql, new { ClinicId = clinicId, clinic.Timezone, Quota = clinic.DailyQuota }, ct);
        return taken
            ? new SmsVerdict.Allowed()
            : new SmsVerdict.Refused(SmsVerdict.Refused.QuotaExceeded,
                $"The clinic's daily quota of {clinic.DailyQuota} SMS is used up until midnight in {clinic.Timezone}.",
                UntilLocalMidnight(DateTimeOffset.UtcNow, ClinicTime.Zone(clinic.Timezone)));
    }

    /// <summary>The limits that apply to a clinic now, and how many messages its current day has used.</summary>
    public async Task<(SmsLimits Limits, int SentToday)?> ReadAsync(DbSession s, Guid clinicId, CancellationToken ct)
    {
        if (await s.QuerySingleOrDefaultAsync<ClinicRow>(ClinicSql, new { ClinicId = clinicId }, ct) is not { } clinic) return null;
        var sent = await s.QuerySingleOrDefaultAsync<int?>(
            "select sum(sent)::int from sms_daily_usage where clinic_id = @ClinicId and day = (now() at time zone @Timezone)::date",
            new { ClinicId = clinicId, clinic.Timezone }, ct);
        return (Limits(clinic), sent ?? 0);
    }

    SmsLimits Limits(ClinicRow c) => c.AllowedCountries is { } explicitList
        ? new SmsLimits(explicitList, false, c.DailyQuota, c.Timezone)
        : new SmsLimits(DefaultCountries(c.Timezone, c.SmsFrom ?? twilio.From), true, c.DailyQuota, c.Timezone);

    /// <summary>A clinic's own countries: where its timezone is, and where the number it sends from is.</summary>
    public static IReadOnlyList<string> DefaultCountries(string timezone, string? sender) =>
        new[] { CountryForTimezone(timezone), sender is null ? null : CountryOf(sender) }
            .OfType<string>().Distinct(StringComparer.Ordinal).ToList();

    static readonly PhoneNumberUtil Util = PhoneNumberUtil.GetInstance();

    /// <summary>ISO 3166-1 alpha-2 of a phone number (libphonenumber's region), or null for a number
    /// that is not valid or belongs to no country (+800 and similar).</summary>
    public static string? CountryOf(string number)
    {
        try
        {
            var parsed = Util.Parse(number, null);
            return Util.GetRegionCodeForNumber(parsed) is { Length: 2 } region ? region : null;
        }
        catch (NumberParseException)
        {
            return null;
        }
    }

    /// <summary>Countries a list may name: those libphonenumber knows.</summary>
    public static bool IsKnownCountry(string code) => Util.GetSupportedRegions().Contains(code);

    static readonly Lazy<Dictionary<string, string>> ZoneCountries = new(LoadZoneTab);

    /// <summary>The country of an IANA timezone from the system's tzdata (zone.tab), falling back to
    /// the regions Frontdesk dials in (Phone.RegionForTimezone).</summary>
    public static string? CountryForTimezone(string timezone) =>
        ZoneCountries.Value.TryGetValue(timezone, out var country) ? country : Phone.RegionForTimezone(timezone);

    static Dictionary<string, string> LoadZoneTab()
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        var dir = Environment.GetEnvironmentVariable("TZDIR") is { Length: > 0 } tzdir ? tzdir : "/usr/share/zoneinfo";
        var path = Path.Combine(dir, "zone.tab");
        if (!File.Exists(path)) return map;
        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith('#')) continue;
            var cols = line.Split('\t');
            if (cols.Length >= 3 && cols[0].Length == 2) map.TryAdd(cols[2], cols[0]);
        }
        return map;
    }

    static string Describe(IReadOnlyList<string> countries) => countries.Count == 0 ? "none" : string.Join(", ", countries);

    /// <summary>Time until the clinic's next local midnight, when its day's quota starts again.</summary>
    public static TimeSpan UntilLocalMidnight(DateTimeOffset now, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(now, zone);
        var midnight = DateTime.SpecifyKind(local.Date.AddDays(1), DateTimeKind.Unspecified);
        // A zone that skips its midnight (a DST jump at 00:00) starts the day an hour later.
        if (zone.IsInvalidTime(midnight)) midnight = midnight.AddHours(1);
        var wait = TimeZoneInfo.ConvertTimeToUtc(midnight, zone) - now.UtcDateTime;
        return wait < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : wait;
    }
}
