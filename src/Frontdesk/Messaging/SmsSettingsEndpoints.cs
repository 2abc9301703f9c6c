using Frontdesk.Audit;
using Frontdesk.Tenancy;

namespace Frontdesk.Messaging;

/// <summary>A clinic's SMS limits (API.md "Privacy settings"). allowedCountries is what applies now
/// (the defaults when <c>defaultCountries</c> is true); sentToday counts the clinic's local day.</summary>
public sealed record SmsSettings(IReadOnlyList<string> AllowedCountries, bool DefaultCountries, int DailyQuota, int SentToday, DateTimeOffset QuotaResetsAt);

/// <summary>PUT body; a member left out (or null) goes back to its default: the clinic's own
/// countries, 500 a day.</summary>
public sealed record UpdateSmsSettings(string[]? AllowedCountries = null, int? DailyQuota = null);

public static class SmsSettingsEndpoints
{
    public const int MaxDailyQuota = 100_000;

    public static IServiceCollection AddSmsGuard(this IServiceCollection services) => services.AddSingleton<SmsGuard>();

    public static void MapSmsSettings(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/clinics/{clinicId}/sms").WithTags("Messaging")
            .RequireAuthorization(Auth.Policies.Member)
            .RequireRoles(AppRoles.Admin);
        group.MapGet("", Get);
        group.MapPut("", Update);
    }

    public static async Task<Results<Ok<SmsSettings>, ProblemHttpResult>> Get(Guid clinicId, HttpContext http, Db db, SmsGuard guard, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(http.Claims(), ct);
        return await ViewAsync(s, guard, clinicId, ct) is { } view ? TypedResults.Ok(view) : Problems.NotFoundProblem("Clinic");
    }

    static async Task<SmsSettings?> ViewAsync(DbSession s, SmsGuard guard, Guid clinicId, CancellationToken ct)
    {
        if (await guard.ReadAsync(s, clinicId, ct) is not { } read) return null;
        var (limits, sent) = read;
        var resets = DateTimeOffset.UtcNow + SmsGuard.UntilLocalMidnight(DateTimeOffset.UtcNow, ClinicTime.Zone(limits.Timezone));
        return new SmsSettings(limits.AllowedCountries, limits.DefaultCountries, limits.DailyQuota, sent,
            new DateTimeOffset(resets.Ticks - resets.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero));
    }

    public static async Task<Results<Ok<SmsSettings>, ProblemHttpResult>> Update(Guid clinicId, UpdateSmsSettings body, HttpContext http, Db db,
        SmsGuard guard, CancellationToken ct)
    {
        string[]? countries = null;
        if (body.AllowedCountries is { } list)
        {
            if (list.Length > 250) return Problems.Invalid("allowedCountries lists at most 250 countries.");
            countries = list.Select(c => (c ?? "").Trim().ToUpperInvariant()).Distinct(StringComparer.Ordinal).ToArray();
            if (countries.FirstOrDefault(c => c.Length != 2 || !SmsGuard.IsKnownCountry(c)) is { } bad)
                return Problems.Invalid($"'{(bad.Length > 10 ? bad[..10] : bad)}' is not an ISO 3166-1 alpha-2 country code (for example GB, US, IE).");
        }
        if (body.DailyQuota is < 0 or > MaxDailyQuota)
            return Problems.Invalid($"dailyQuota is between 0 and {MaxDailyQuota}.");

        await using var s = await db.BeginAsync(http.Claims(), ct);
        var updated = await s.ExecuteAsync(
            "update clinics set sms_allowed_countries = @Countries::text[], sms_daily_quota = @Quota where id = @Id",
            new { Id = clinicId, Countries = countries, Quota = body.DailyQuota ?? SmsGuard.DefaultDailyQuota }, ct);
        if (updated != 1) return Problems.NotFoundProblem("Clinic");
        await AuditLog.WriteAsync(s, clinicId, "updated", "sms_settings", clinicId.ToString(),
            new { allowedCountries = countries, dailyQuota = body.DailyQuota ?? SmsGuard.DefaultDailyQuota }, ct);
        var view = await ViewAsync(s, guard, clinicId, ct);
        await s.CommitAsync(ct);
        return TypedResults.Ok(view!);
    }
}
