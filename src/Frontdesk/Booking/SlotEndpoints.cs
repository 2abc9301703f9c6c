using Frontdesk.Audit;
using Frontdesk.Tenancy;

namespace Frontdesk.Booking;

public sealed record GenerateSlots(Guid PractitionerId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, int DurationMinutes);

public sealed record SlotView(Guid Id, DateTimeOffset StartsAt, DateTimeOffset EndsAt);

public sealed record GeneratedSlots(int Created, IReadOnlyList<SlotView> Slots);

public sealed record SlotListItem(Guid Id, Guid PractitionerId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, bool Available);

public static class SlotEndpoints
{
    public const int MaxSlotsPerRequest = 2000;

    public static void MapSlots(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/clinics/{clinicId}/slots").WithTags("Slots")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter);
        group.MapPost("", Generate);
        group.MapGet("", List);
    }

    static async Task<Results<Created<GeneratedSlots>, ProblemHttpResult>> Generate(
        Guid clinicId, GenerateSlots body, HttpContext http, Db db, CancellationToken ct)
    {
        if (body.DurationMinutes is < 5 or > 24 * 60)
            return Problems.Invalid("durationMinutes must be between 5 and 1440.");
        if (body.EndsAt <= body.StartsAt)
            return Problems.Invalid("endsAt must be after startsAt.");
        var count = (int)Math.Floor((body.EndsAt - body.StartsAt).TotalMinutes / body.DurationMinutes);
        if (count < 1) return Problems.Invalid("The range is shorter than one slot.");
        if (count > MaxSlotsPerRequest) return Problems.Invalid($"At most {MaxSlotsPerRequest} slots per request.");
        var claims = http.Claims();
        if (claims.Deny(AppRoles.Admin | AppRoles.Receptionist, "Only admins and receptionists may create slots") is { } denied) return denied;

        await using var s = await db.BeginAsync(claims, ct);
        if (await s.QuerySingleOrDefaultAsync<Guid?>("select id from practitioners where id = @Id and clinic_id = @ClinicId",
                new { Id = body.PractitionerId, ClinicId = clinicId }, ct) is null)
            return Problems.NotFoundProblem("Practitioner");
        // Overlap with existing slots of the practitioner → calendar_slots_no_overlap → 409.
        var slots = await s.QueryAsync<SlotView>("""
            insert into calendar_slots (clinic_id, practitioner_id, starts_at, ends_at)
            select @ClinicId, @PractitionerId, t, t + make_interval(mins => @Minutes)
            from generate_series(0, @Count - 1) i, lateral (select @StartsAt + make_interval(mins => i * @Minutes) as t) x
            returning id, starts_at, ends_at
            """, new { ClinicId = clinicId, body.PractitionerId, Minutes = body.DurationMinutes, Count = count, body.StartsAt }, ct);
        await AuditLog.WriteAsync(s, clinicId, "created", "slots", body.PractitionerId.ToString(),
            new { count, startsAt = body.StartsAt, endsAt = body.EndsAt, body.DurationMinutes }, ct);
        await s.CommitAsync(ct);
        var ordered = slots.OrderBy(x => x.StartsAt).ToList();
        return TypedResults.Created($"/api/clinics/{clinicId}/slots", new GeneratedSlots(ordered.Count, ordered));
    }

    static async Task<Results<Ok<IReadOnlyList<SlotListItem>>, ProblemHttpResult>> List(
        Guid clinicId, DateTimeOffset? from, DateTimeOffset? to, bool? available, Guid? practitionerId,
        HttpContext http, Db db, CancellationToken ct)
    {
        var start = from ?? DateTimeOffset.UtcNow;
        var end = to ?? start.AddDays(14);
        if (end <= start) return Problems.Invalid("to must be after from.");
        if (end - start > TimeSpan.FromDays(366)) return Problems.Invalid("The range is at most a year.");
        // available: not claimed, not busy in the calendar, and no live hold (an expired hold is free).
        var rows = await db.QueryOnceAsync<SlotListItem>(http.Claims(), """
            select id, practitioner_id, starts_at, ends_at,
                   (claimed_by is null and not busy and (hold_expires_at is null or hold_expires_at <= now())) as available
            from calendar_slots
            where clinic_id = @ClinicId and starts_at >= @From and starts_at < @To
              and (@PractitionerId::uuid is null or practitioner_id = @PractitionerId)
              and (not coalesce(@Available::boolean, false)
                   or (claimed_by is null and not busy and (hold_expires_at is null or hold_expires_at <= now())))
            order by starts_at, practitioner_id
            limit 5000
            """, new { ClinicId = clinicId, From = start, To = end, PractitionerId = practitionerId, Available = available }, ct);
        return TypedResults.Ok(rows);
    }
}
