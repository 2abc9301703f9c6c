using Frontdesk.Booking;
using Frontdesk.Clinics;

namespace Frontdesk.Tenancy;

public sealed record ClinicData(ClinicView Clinic, IReadOnlyList<PractitionerView> Practitioners, IReadOnlyList<BookingView> Bookings, long Patients);

/// <summary>The seed's GET /functions/v1/get_clinic_data: the caller's clinic, read entirely under
/// RLS (no clinic filter in the SQL: the policies are the filter, which is what this proves).</summary>
public static class ClinicDataEndpoints
{
    public static void MapClinicData(this IEndpointRouteBuilder app) =>
        app.MapGet("/functions/v1/get_clinic_data", Get).WithTags("Clinics").RequireAuthorization(Auth.Policies.Member);

    static async Task<Results<Ok<ClinicData>, ProblemHttpResult>> Get(Guid? clinicId, HttpContext http, Db db, CancellationToken ct)
    {
        var claims = http.Claims();
        var target = clinicId ?? claims.ClinicId;
        if (target is null) return Problems.Invalid("clinicId is required for service_role callers.");
        if (await ClinicScope.DenyIfForeignAsync(http, target.Value, ct) is { } denied) return denied;

        await using var s = await db.BeginAsync(claims, ct);
        var clinic = await s.QuerySingleOrDefaultAsync<ClinicView>($"select {ClinicEndpoints.ClinicColumns} from clinics where id = @Id", new { Id = target }, ct);
        if (clinic is null) return Problems.NotFoundProblem("Clinic");
        var practitioners = await s.QueryAsync<PractitionerView>(
            "select id, clinic_id, name, created_at from practitioners where clinic_id = @Id order by name", new { Id = target }, ct);
        var bookings = await s.QueryAsync<BookingView>(
            $"select {BookingEndpoints.Columns} from bookings where clinic_id = @Id order by starts_at limit 1000", new { Id = target }, ct);
        var patients = await s.QuerySingleOrDefaultAsync<long>("select count(*) from patients where clinic_id = @Id", new { Id = target }, ct);
        return TypedResults.Ok(new ClinicData(clinic, practitioners, bookings, patients));
    }
}
