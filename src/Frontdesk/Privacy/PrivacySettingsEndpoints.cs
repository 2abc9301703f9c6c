using Frontdesk.Audit;
using Frontdesk.Tenancy;

namespace Frontdesk.Privacy;

/// <summary>A clinic's privacy settings (API.md "Privacy settings").</summary>
public sealed record PrivacySettings(int CallContentRetentionDays);

/// <summary>GET|PUT /api/clinics/{clinicId}/privacy: how long call content is kept (admin).</summary>
public static class PrivacySettingsEndpoints
{
    public const int MinRetentionDays = 1, MaxRetentionDays = 3650;

    public static void MapPrivacySettings(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/clinics/{clinicId}").WithTags("Privacy")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter);
        group.MapGet("/privacy", Get);
        group.MapPut("/privacy", Update);
        // Resolved when /healthz asks, not here: mapping must not start the database.
        var services = app.ServiceProvider;
        services.GetRequiredService<HealthDetails>().Add("retention", () => services.GetRequiredService<RetentionWorker>().Health());
    }

    static ProblemHttpResult? Forbidden(RequestClaims claims) =>
        claims.IsService || claims.AppRole is "admin" or null ? null : Problems.Problem(403, Problems.Forbidden, "Only a clinic admin may see or change privacy settings");

    static async Task<Results<Ok<PrivacySettings>, ProblemHttpResult>> Get(Guid clinicId, HttpContext http, Db db, CancellationToken ct)
    {
        if (Forbidden(http.Claims()) is { } denied) return denied;
        return (await db.QueryOnceAsync<int>(http.Claims(), "select call_content_retention_days from clinics where id = @Id", new { Id = clinicId }, ct))
            is [var days] ? TypedResults.Ok(new PrivacySettings(days)) : Problems.NotFoundProblem("Clinic");
    }

    static async Task<Results<Ok<PrivacySettings>, ProblemHttpResult>> Update(Guid clinicId, PrivacySettings body, HttpContext http, Db db,
        CancellationToken ct)
    {
        if (Forbidden(http.Claims()) is { } denied) return denied;
        if (body.CallContentRetentionDays is < MinRetentionDays or > MaxRetentionDays)
            return Problems.Invalid($"callContentRetentionDays is {MinRetentionDays}–{MaxRetentionDays}.");
        var updated = await db.InTransactionAsync(http.Claims(), async s =>
        {
            var previous = await s.QuerySingleOrDefaultAsync<int?>(
                "select call_content_retention_days from clinics where id = @Id for update", new { Id = clinicId }, ct);
            if (previous is null) return false;
            await s.ExecuteAsync("update clinics set call_content_retention_days = @Days where id = @Id",
                new { Days = body.CallContentRetentionDays, Id = clinicId }, ct);
            await AuditLog.WriteAsync(s, clinicId, "privacy_settings_changed", "clinic", clinicId.ToString(),
                new { callContentRetentionDays = body.CallContentRetentionDays, previous }, ct);
            return true;
        }, ct);
        return updated ? TypedResults.Ok(body) : Problems.NotFoundProblem("Clinic");
    }
}
