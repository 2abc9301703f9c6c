using Frontdesk.Tenancy;

namespace Frontdesk.Booking;

public sealed record BookingView(Guid Id, Guid ClinicId, Guid SlotId, Guid? PatientId, Guid PractitionerId,
    DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status, string Source, string? CallId,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? CancelledAt,
    DateTimeOffset? ConfirmedAt = null, string? Attendance = null);

public sealed record MoveBooking(Guid SlotId);

public static class BookingEndpoints
{
    public static void MapBookings(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/bookings/{clinicId}").WithTags("Bookings")
            .RequireAuthorization(Auth.Policies.Member)      // policy once, on the group
            .AddEndpointFilter(ClinicScope.RouteFilter);
        group.MapGet("/{bookingId}", Get);
        group.MapPut("/{bookingId}", Move);
        group.MapDelete("/{bookingId}", Cancel);
    }

    internal const string Columns = """
        id, clinic_id, slot_id, patient_id, practitioner_id, starts_at, ends_at, status, source, call_id,
        created_at, updated_at, cancelled_at, confirmed_at, attendance
        """;

    static async Task<Results<Ok<BookingView>, ProblemHttpResult>> Get(Guid clinicId, Guid bookingId, HttpContext http, Db db, CancellationToken ct) =>
        await db.QueryOnceAsync<BookingView>(http.Claims(),
                $"select {Columns} from bookings where id = @Id and clinic_id = @ClinicId", new { Id = bookingId, ClinicId = clinicId }, ct)
            is [var b] ? TypedResults.Ok(b) : Problems.NotFoundProblem("Booking");

    internal static async Task<Results<Ok<BookingView>, Conflict<SlotTakenBody>, ProblemHttpResult>> Move(
        Guid clinicId, Guid bookingId, MoveBooking body, HttpContext http, Db db, CancellationToken ct)
    {
        if (body.SlotId == Guid.Empty) return Problems.Invalid("slotId is required.");
        await using var s = await db.BeginAsync(http.Claims(), ct);
        var outcome = await SlotEngine.MoveAsync(s, bookingId, body.SlotId, clinicId, ct);
        switch (outcome.Status)
        {
            case 200:
                var view = await s.QuerySingleOrDefaultAsync<BookingView>($"select {Columns} from bookings where id = @Id", new { Id = bookingId }, ct);
                await s.CommitAsync(ct);
                return TypedResults.Ok(view!);
            case 409:
                return TypedResults.Conflict(ClaimEndpoints.Taken(outcome));
            case 404:
                return Problems.NotFoundProblem(outcome.Error?.StartsWith("Slot", StringComparison.Ordinal) == true ? "Slot" : "Booking");
            default:
                return Problems.Invalid(outcome.Error ?? "invalid move");
        }
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> Cancel(Guid clinicId, Guid bookingId, HttpContext http, Db db, CancellationToken ct)
    {
        var outcome = await db.InTransactionAsync(http.Claims(), s => SlotEngine.CancelAsync(s, bookingId, clinicId, ct), ct);
        return outcome.Status == 200 ? TypedResults.NoContent() : Problems.NotFoundProblem("Booking");
    }
}
