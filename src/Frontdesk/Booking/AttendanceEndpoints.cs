using Frontdesk.Audit;
using Frontdesk.Tenancy;

namespace Frontdesk.Booking;

/// <summary>PUT body: did the patient come?</summary>
public sealed record AttendanceMark(bool Attended);

/// <summary>
/// API.md "Between calls": PUT /api/bookings/{clinicId}/{bookingId}/attendance {attended}. Staff (admin,
/// receptionist, doctor) record whether the patient came, once the appointment has started: false marks
/// the booking <c>did_not_arrive</c> (a no-show, counted by the stats), true <c>attended</c>. A mark can be
/// corrected; each change is audited. The booking's status and slot stay as they are.
/// </summary>
public static class AttendanceEndpoints
{
    public const string Attended = "attended", DidNotArrive = "did_not_arrive";

    public static void MapAttendance(this IEndpointRouteBuilder app) =>
        app.MapGroup("/api/bookings/{clinicId:guid}").WithTags("Bookings")
            .RequireAuthorization(Auth.Policies.Member)
            .RequireRoles(AppRoles.Admin | AppRoles.Receptionist | AppRoles.Doctor)
            .MapPut("/{bookingId:guid}/attendance", Mark)
            .ProducesProblem(400).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409);

    sealed record State(string Status, DateTimeOffset StartsAt, string? Attendance, bool Started);

    public static async Task<Results<Ok<BookingView>, ProblemHttpResult>> Mark(Guid clinicId, Guid bookingId, AttendanceMark body, HttpContext http,
        Db db, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(http.Claims(), ct);
        // Locked: a concurrent mark or cancel of the same booking takes its turn.
        var state = await s.QuerySingleOrDefaultAsync<State>("""
            select status, starts_at, attendance, starts_at <= now() from bookings where clinic_id = @ClinicId and id = @Id for update
            """, new { ClinicId = clinicId, Id = bookingId }, ct);
        if (state is null) return Problems.NotFoundProblem("Booking");
        if (state.Status != "confirmed") return Problems.ConflictProblem("The booking was cancelled: there is no attendance to record.");
        if (!state.Started) return Problems.ConflictProblem("The appointment has not started yet: attendance is recorded once it has.");
        var mark = body.Attended ? Attended : DidNotArrive;
        if (state.Attendance != mark)
        {
            await s.ExecuteAsync("""
                update bookings set attendance = @Mark, attendance_at = now(), updated_at = now() where clinic_id = @ClinicId and id = @Id
                """, new { Mark = mark, ClinicId = clinicId, Id = bookingId }, ct);
            await AuditLog.WriteAsync(s, clinicId, "attendance", "booking", bookingId.ToString(), new { attendance = mark, previous = state.Attendance }, ct);
        }
        var view = await s.QuerySingleOrDefaultAsync<BookingView>(
            $"select {BookingEndpoints.Columns} from bookings where clinic_id = @ClinicId and id = @Id", new { ClinicId = clinicId, Id = bookingId }, ct);
        await s.CommitAsync(ct);
        return TypedResults.Ok(view!);
    }
}
