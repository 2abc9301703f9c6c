using System.Text.Json;
using Frontdesk.Clinics;
using Frontdesk.Tenancy;

namespace Frontdesk.Calls;

/// <summary>A clinic's reconciliation state as the clinic sees it (never the key).</summary>
public sealed record VapiReconciliationView(bool Enabled, DateTimeOffset? LastRunAt, DateTimeOffset? LastSuccessAt, string? LastError,
    int Failures, int RecoveredLast, long RecoveredTotal, DateTimeOffset? NextRunAt);

/// <summary>
/// <c>PATCH /api/clinics/{clinicId}</c> <c>{vapiApiKey}</c> (admin or service_role): a string sets the
/// clinic's Vapi private API key (sealed, write-only) and turns reconciliation on; null removes it.
/// <c>GET /api/clinics/{clinicId}/vapi/reconciliation</c> (members): the last runs' state.
/// </summary>
public static class VapiReconciliationEndpoints
{
    static readonly string[] Patchable = ["vapiApiKey"];

    public static void MapVapiReconciliation(this IEndpointRouteBuilder app)
    {
        var reconciliation = app.ServiceProvider.GetRequiredService<VapiReconciliation>();
        app.ServiceProvider.GetRequiredService<HealthDetails>().Add(VapiReconciliation.HealthName, () => reconciliation.Summary);

        var clinic = app.MapGroup("/api/clinics/{clinicId}").WithTags("Clinics")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter);
        clinic.MapPatch("", Patch);
        clinic.MapGet("/vapi/reconciliation", State);
    }

    static async Task<Results<Ok<ClinicView>, ProblemHttpResult>> Patch(Guid clinicId, JsonElement body, HttpContext http, Db db,
        VapiApiKeys keys, VapiReconciliation reconciliation, CancellationToken ct)
    {
        var claims = http.Claims();
        if (!claims.IsService && claims.AppRole is not ("admin" or null))
            return Problems.Problem(403, Problems.Forbidden, "Only a clinic admin may change the clinic");
        if (body.ValueKind != JsonValueKind.Object)
            return Problems.Invalid("The body must be a JSON object.");
        if (body.EnumerateObject().Select(p => p.Name).FirstOrDefault(n => !Patchable.Contains(n, StringComparer.Ordinal)) is { } unknown)
            return Problems.Invalid($"'{unknown}' cannot be changed here; PATCH takes: {string.Join(", ", Patchable)}.");

        string? apiKey = null;
        var setKey = body.TryGetProperty("vapiApiKey", out var key);
        if (setKey)
        {
            if (key.ValueKind == JsonValueKind.String && key.GetString()!.Trim() is var k && VapiApiKeys.IsPlausible(k)) apiKey = k;
            else if (key.ValueKind != JsonValueKind.Null)
                return Problems.Invalid("vapiApiKey must be the clinic's Vapi private API key (8–200 visible characters), or null to remove it.");
        }

        var view = await db.InTransactionAsync(claims, async s =>
        {
            var current = await s.QuerySingleOrDefaultAsync<ClinicView>(
                $"select {ClinicEndpoints.ClinicColumns} from clinics where id = @Id", new { Id = clinicId }, ct);
            if (current is null || !setKey) return current;
            await keys.SetAsync(s, clinicId, apiKey, ct);
            if (apiKey is not null) s.AfterCommit(reconciliation.Signal);
            return current;
        }, ct);
        return view is null ? Problems.NotFoundProblem("Clinic") : TypedResults.Ok(view);
    }

    sealed record StateRow(DateTimeOffset? LastRunAt, DateTimeOffset? LastSuccessAt, string? LastError, int Failures, int RecoveredLast,
        long RecoveredTotal, DateTimeOffset NextRunAt);

    static async Task<Ok<VapiReconciliationView>> State(Guid clinicId, HttpContext http, Db db, CancellationToken ct)
    {
        var rows = await db.QueryOnceAsync<StateRow>(http.Claims(), """
            select last_run_at, last_success_at, last_error, failures, recovered_last, recovered_total, next_run_at
            from vapi_reconciliation where clinic_id = @ClinicId
            """, new { ClinicId = clinicId }, ct);
        return TypedResults.Ok(rows is [var r]
            ? new VapiReconciliationView(true, r.LastRunAt, r.LastSuccessAt, r.LastError, r.Failures, r.RecoveredLast, r.RecoveredTotal, r.NextRunAt)
            : new VapiReconciliationView(false, null, null, null, 0, 0, 0, null));
    }
}
