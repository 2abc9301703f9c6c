using Frontdesk.Audit;
using Frontdesk.Tenancy;
using Npgsql;

namespace Frontdesk.Clinics;

/// <summary>The secret is never returned: only whether one is set.</summary>
public sealed record VapiSettings(string? AssistantId, string? PhoneNumberId, bool Hmac, bool SecretSet);

/// <summary>secret null keeps the current secret; an empty string is refused (a clinic's webhooks need one).</summary>
public sealed record UpdateVapiSettings(string? AssistantId = null, string? PhoneNumberId = null, bool Hmac = false, string? Secret = null);

/// <summary>A clinic's Vapi wiring after creation: assistant and phone-number ids (which route webhooks
/// to the clinic), the shared secret and HMAC signing. Read by members, written by admins; audited
/// without the secret.</summary>
public static class VapiSettingsEndpoints
{
    public static void MapVapiSettings(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/clinics/{clinicId}/vapi").WithTags("Clinics")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter);
        group.MapGet("", Get);
        group.MapPut("", Update);
    }

    internal static async Task<Results<Ok<VapiSettings>, ProblemHttpResult>> Get(Guid clinicId, HttpContext http, Db db, CancellationToken ct) =>
        await db.QueryOnceAsync<VapiSettings>(http.Claims(), """
            select vapi_assistant_id, vapi_phone_number_id, vapi_hmac, vapi_secret is not null from clinics where id = @Id
            """, new { Id = clinicId }, ct) is [var v] ? TypedResults.Ok(v) : Problems.NotFoundProblem("Clinic");

    internal static async Task<Results<Ok<VapiSettings>, ProblemHttpResult>> Update(Guid clinicId, UpdateVapiSettings body, HttpContext http, Db db, CancellationToken ct)
    {
        var claims = http.Claims();
        if (!claims.IsService && claims.AppRole is not ("admin" or null))
            return Problems.Problem(403, Problems.Forbidden, "Only a clinic admin may change the Vapi settings");
        static string? Id(string? v) => string.IsNullOrWhiteSpace(v) ? null : v.Trim();
        var assistant = Id(body.AssistantId);
        var number = Id(body.PhoneNumberId);
        if (assistant is { Length: > 200 } || number is { Length: > 200 })
            return Problems.Invalid("assistantId and phoneNumberId are at most 200 characters.");
        if (body.Secret is { } secret && (secret.Trim().Length < 16 || secret.Length > 200))
            return Problems.Invalid("secret is 16–200 characters (or absent to keep the current one).");
        try
        {
            var n = await db.InTransactionAsync(claims, async s =>
            {
                var updated = await s.ExecuteAsync("""
                    update clinics set vapi_assistant_id = @Assistant, vapi_phone_number_id = @Number, vapi_hmac = @Hmac,
                           vapi_secret = coalesce(@Secret, vapi_secret)
                    where id = @Id
                    """, new { Id = clinicId, Assistant = assistant, Number = number, body.Hmac, Secret = body.Secret?.Trim() }, ct);
                if (updated == 1)
                    await AuditLog.WriteAsync(s, clinicId, "updated", "vapi_settings", clinicId.ToString(),
                        new { assistant = assistant is not null, phoneNumber = number is not null, hmac = body.Hmac, secretChanged = body.Secret is not null }, ct);
                return updated;
            }, ct);
            if (n == 0) return Problems.NotFoundProblem("Clinic");
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // vapi_assistant_id and vapi_phone_number_id route webhooks, so each belongs to one clinic only.
            return Problems.ConflictProblem("That assistant or phone-number id is already used by another clinic.");
        }
        return await Get(clinicId, http, db, ct);
    }
}
