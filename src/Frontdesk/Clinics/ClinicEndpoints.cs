using Frontdesk.Audit;
using Frontdesk.Tenancy;

namespace Frontdesk.Clinics;

// Optional members carry defaults: with RespectRequiredConstructorParameters every other one is required.
public sealed record CreateClinic(string Name, string? Timezone = null, string? SmsFrom = null, string? VapiAssistantId = null,
    string? VapiPhoneNumberId = null, string? VapiSecret = null, string? VapiApiKey = null);

public sealed record ClinicView(Guid Id, string Name, string Timezone, string? SmsFrom, string? VapiAssistantId,
    string? VapiPhoneNumberId, DateTimeOffset CreatedAt);

public sealed record CreatePractitioner(string Name);

public sealed record PractitionerView(Guid Id, Guid ClinicId, string Name, DateTimeOffset CreatedAt);

public static class ClinicEndpoints
{
    public static void MapClinics(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/clinics", Create).WithTags("Clinics").RequireAuthorization(Auth.Policies.ServiceRole);
        app.MapDelete("/api/clinics/{clinicId}", Delete).WithTags("Clinics").RequireAuthorization(Auth.Policies.ServiceRole);

        var clinic = app.MapGroup("/api/clinics/{clinicId}").WithTags("Clinics")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter);
        clinic.MapGet("", Get);
        clinic.MapPost("/practitioners", CreatePractitioner);
        clinic.MapGet("/practitioners", ListPractitioners);
        clinic.MapGet("/audit", ReadAudit);
    }

    internal const string ClinicColumns = "id, name, timezone, sms_from, vapi_assistant_id, vapi_phone_number_id, created_at";

    static async Task<Results<Created<ClinicView>, ProblemHttpResult>> Create(CreateClinic body, HttpContext http, Db db,
        Calls.VapiApiKeys vapiKeys, Calls.VapiReconciliation reconciliation, CancellationToken ct)
    {
        if (body.VapiApiKey is { } apiKey && !Calls.VapiApiKeys.IsPlausible(apiKey))
            return Problems.Invalid("vapiApiKey must be the clinic's Vapi private API key (8–200 visible characters).");
        var timezone = body.Timezone ?? "Europe/London";
        if (string.IsNullOrWhiteSpace(body.Name) || body.Name.Length > 200)
            return Problems.Invalid("name is required (at most 200 characters).");
        if (!ClinicTime.IsKnownZone(timezone))
            return Problems.Invalid($"timezone '{timezone}' is not an IANA time zone.");
        string? smsFrom = null;
        if (body.SmsFrom is not null && (smsFrom = Phone.ToE164(body.SmsFrom, Phone.RegionForTimezone(timezone))) is null
            && !body.SmsFrom.StartsWith("MG", StringComparison.Ordinal))
            return Problems.Invalid("smsFrom must be a phone number or a Twilio messaging service SID.");

        var view = await db.InTransactionAsync(http.Claims(), async s =>
        {
            var created = await s.QuerySingleOrDefaultAsync<ClinicView>($"""
                insert into clinics (name, timezone, sms_from, vapi_assistant_id, vapi_phone_number_id, vapi_secret)
                values (@Name, @Timezone, @SmsFrom, @AssistantId, @PhoneNumberId, @Secret)
                returning {ClinicColumns}
                """, new
            {
                Name = body.Name.Trim(),
                Timezone = timezone,
                SmsFrom = smsFrom ?? body.SmsFrom,
                AssistantId = body.VapiAssistantId,
                PhoneNumberId = body.VapiPhoneNumberId,
                Secret = body.VapiSecret,
            }, ct);
            await AuditLog.WriteAsync(s, created!.Id, "clinic_created", "clinic", created.Id.ToString(), new { name = created.Name }, ct);
            if (body.VapiApiKey is not null)
            {
                await vapiKeys.SetAsync(s, created.Id, body.VapiApiKey, ct);
                s.AfterCommit(reconciliation.Signal);
            }
            return created;
        }, ct);
        return TypedResults.Created($"/api/clinics/{view.Id}", view);
    }

    /// <summary>Removes a clinic and everything it owns (its audit chain included): for offboarding and
    /// for the validation run's throwaway clinics. service_role only.</summary>
    static async Task<Results<NoContent, ProblemHttpResult>> Delete(Guid clinicId, HttpContext http, Db db, CancellationToken ct) =>
        await db.InTransactionAsync(http.Claims(), s => s.ExecuteAsync("delete from clinics where id = @Id", new { Id = clinicId }, ct), ct) == 1
            ? TypedResults.NoContent()
            : Problems.NotFoundProblem("Clinic");

    static async Task<Results<Ok<ClinicView>, ProblemHttpResult>> Get(Guid clinicId, HttpContext http, Db db, CancellationToken ct) =>
        (await db.QueryOnceAsync<ClinicView>(http.Claims(), $"select {ClinicColumns} from clinics where id = @Id", new { Id = clinicId }, ct))
            is [var c] ? TypedResults.Ok(c) : Problems.NotFoundProblem("Clinic");

    internal static async Task<Results<Created<PractitionerView>, ProblemHttpResult>> CreatePractitioner(
        Guid clinicId, CreatePractitioner body, HttpContext http, Db db, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(body.Name) || body.Name.Length > 200)
            return Problems.Invalid("name is required (at most 200 characters).");
        var claims = http.Claims();
        if (claims.Deny(AppRoles.Admin, "Only a clinic admin may add practitioners") is { } denied) return denied;
        var view = await db.InTransactionAsync(claims, async s =>
        {
            var p = await s.QuerySingleOrDefaultAsync<PractitionerView>("""
                insert into practitioners (clinic_id, name) values (@ClinicId, @Name)
                returning id, clinic_id, name, created_at
                """, new { ClinicId = clinicId, Name = body.Name.Trim() }, ct);
            await AuditLog.WriteAsync(s, clinicId, "created", "practitioner", p!.Id.ToString(), null, ct);
            return p;
        }, ct);
        return TypedResults.Created($"/api/clinics/{clinicId}/practitioners/{view.Id}", view);
    }

    static async Task<Ok<IReadOnlyList<PractitionerView>>> ListPractitioners(Guid clinicId, HttpContext http, Db db, CancellationToken ct) =>
        TypedResults.Ok(await db.QueryOnceAsync<PractitionerView>(http.Claims(),
            "select id, clinic_id, name, created_at from practitioners where clinic_id = @ClinicId order by name",
            new { ClinicId = clinicId }, ct));

    static async Task<Results<Ok<IReadOnlyList<AuditEntry>>, ProblemHttpResult>> ReadAudit(
        Guid clinicId, int? limit, long? before, HttpContext http, Db db, CancellationToken ct)
    {
        if (limit is < 1 or > 1000) return Problems.Invalid("limit must be between 1 and 1000.");
        await using var s = await db.BeginAsync(http.Claims(), ct);
        return TypedResults.Ok(await AuditLog.ReadAsync(s, clinicId, limit ?? 100, before, ct));
    }
}
