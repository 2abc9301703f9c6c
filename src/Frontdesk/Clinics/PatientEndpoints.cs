using Frontdesk.Audit;
using Frontdesk.Tenancy;

namespace Frontdesk.Clinics;

public sealed record CreatePatient(string Name, string Phone, string? Email = null);

public sealed record PatientView(Guid Id, Guid ClinicId, string? Name, string? Phone, string? Email, DateTimeOffset CreatedAt, DateTimeOffset? ErasedAt);

public static class PatientEndpoints
{
    public static void MapPatients(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/clinics/{clinicId}/patients", Create).WithTags("Patients")
            .RequireAuthorization(Auth.Policies.Member).AddEndpointFilter(ClinicScope.RouteFilter);

        var group = app.MapGroup("/api/patients/{clinicId}").WithTags("Patients")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter);
        group.MapGet("/{patientId}", Get);
        group.MapDelete("/{patientId}", Erase);
    }

    internal const string Columns = "id, clinic_id, name, phone, email, created_at, erased_at";

    static async Task<Results<Created<PatientView>, ProblemHttpResult>> Create(Guid clinicId, CreatePatient body, HttpContext http, Db db, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(body.Name) || body.Name.Length > 200)
            return Problems.Invalid("name is required (at most 200 characters).");
        if (body.Email is { } email && (email.Length > 254 || !System.Net.Mail.MailAddress.TryCreate(email, out _)))
            return Problems.Invalid("email is not a valid address.");
        var claims = http.Claims();
        if ((await db.QueryOnceAsync<string>(claims, "select timezone from clinics where id = @Id", new { Id = clinicId }, ct)) is not [var tz])
            return Problems.NotFoundProblem("Clinic");
        if (Phone.ToE164(body.Phone, Phone.RegionForTimezone(tz)) is not { } phone)
            return Problems.Invalid("phone is not a valid phone number.");
        var view = await db.InTransactionAsync(claims, async s =>
        {
            var p = await s.QuerySingleOrDefaultAsync<PatientView>($"""
                insert into patients (clinic_id, name, phone, email) values (@ClinicId, @Name, @Phone, @Email)
                returning {Columns}
                """, new { ClinicId = clinicId, Name = body.Name.Trim(), Phone = phone, Email = body.Email }, ct);
            await AuditLog.WriteAsync(s, clinicId, "created", "patient", p!.Id.ToString(), null, ct);
            return p;
        }, ct);
        return TypedResults.Created($"/api/patients/{clinicId}/{view.Id}", view);
    }

    static async Task<Results<Ok<PatientView>, ProblemHttpResult>> Get(Guid clinicId, Guid patientId, HttpContext http, Db db, CancellationToken ct)
    {
        var view = await db.InTransactionAsync(http.Claims(), async s =>
        {
            var p = await s.QuerySingleOrDefaultAsync<PatientView>(
                $"select {Columns} from patients where id = @Id and clinic_id = @ClinicId", new { Id = patientId, ClinicId = clinicId }, ct);
            if (p is not null) await AuditLog.WriteAsync(s, clinicId, "accessed", "patient", patientId.ToString(), null, ct);
            return p;
        }, ct);
        return view is null ? Problems.NotFoundProblem("Patient") : TypedResults.Ok(view);
    }

    /// <summary>GDPR erasure (Privacy/PatientData): everything linked to the patient by id or number
    /// deleted or shredded, the row kept as a non-identifying tombstone so bookings and the audit chain
    /// still point at something.</summary>
    internal static async Task<Results<NoContent, ProblemHttpResult>> Erase(Guid clinicId, Guid patientId, HttpContext http, Db db,
        Frontdesk.Privacy.Vault vault, CancellationToken ct)
    {
        var claims = http.Claims();
        if (claims.Deny(AppRoles.Admin, "Only a clinic admin may erase a patient") is { } denied) return denied;
        var erased = await db.InTransactionAsync(claims, s => Frontdesk.Privacy.PatientData.EraseAsync(s, vault, clinicId, patientId, ct), ct);
        return erased ? TypedResults.NoContent() : Problems.NotFoundProblem("Patient");
    }
}
