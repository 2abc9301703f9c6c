using System.Globalization;
using Frontdesk.Tenancy;

namespace Frontdesk.Stats;

public sealed record BookingCounts(int Voice, int SmsLink, int ManageLink, int Waitlist, int Staff);

public sealed record FollowUpCounts(int Sent, int Booked);

public sealed record ReminderCounts(int Sent, int Confirmed);

/// <summary>API.md "Between calls": the figures for <c>[From, To)</c> (echoed, with the clinic's timezone the
/// dates were read in).</summary>
public sealed record ClinicStatsView(DateTimeOffset From, DateTimeOffset To, string Timezone, int Calls, BookingCounts Bookings,
    FollowUpCounts FollowUps, ReminderCounts Reminders, int NoShows, int WaitlistRefills);

/// <summary>A half-open range of instants, <c>[From, To)</c>.</summary>
public sealed record StatsRange(DateTimeOffset From, DateTimeOffset To)
{
    public const int MaxDays = 366;

    /// <summary>
    /// <paramref name="from"/> and <paramref name="to"/> are each an ISO date (<c>2026-12-01</c>: a whole day in
    /// the clinic's timezone, <c>to</c> inclusive) or an ISO timestamp with an offset (<c>2026-12-01T09:00:00Z</c>:
    /// that instant, <c>to</c> exclusive). Missing: the 30 days ending today (clinic time); only one given: 30 days
    /// from or up to it. At most <see cref="MaxDays"/> days.
    /// </summary>
    public static (StatsRange? Range, string? Problem) Parse(string? from, string? to, TimeZoneInfo zone, DateTimeOffset now)
    {
        DateTimeOffset? f = null, t = null;
        if (!string.IsNullOrEmpty(from) && (f = Read(from, zone, endOfDay: false)) is null)
            return (null, "from is an ISO date (yyyy-MM-dd, the clinic's day) or a timestamp with an offset (2026-12-01T09:00:00Z).");
        if (!string.IsNullOrEmpty(to) && (t = Read(to, zone, endOfDay: true)) is null)
            return (null, "to is an ISO date (yyyy-MM-dd, the clinic's day, inclusive) or a timestamp with an offset (exclusive).");
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, zone).DateTime);
        t ??= f is { } start ? start.AddDays(30) : ClinicTime.StartOfDay(today.AddDays(1), zone);
        f ??= t.Value.AddDays(-30);
        if (f >= t) return (null, "from must be before to.");
        if (t - f > TimeSpan.FromDays(MaxDays)) return (null, $"The range is at most {MaxDays} days.");
        return (new StatsRange(f.Value, t.Value), null);
    }

    static DateTimeOffset? Read(string text, TimeZoneInfo zone, bool endOfDay)
    {
        if (text.Length == 10 && ClinicTime.TryParseDay(text, out var day))
            return ClinicTime.StartOfDay(endOfDay ? day.AddDays(1) : day, zone);
        // A timestamp must say its offset: "09:00" alone would mean the server's zone.
        if (text.Length > 10 && (text.EndsWith('Z') || text.EndsWith('z') || text.LastIndexOfAny(['+', '-']) > 10)
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at) && ClinicTime.Plausible(at))
            return at;
        return null;
    }
}

/// <summary>
/// "Numbers clinics ask for", counted in SQL under the caller's tenant session (RLS scopes every table):
/// <list type="bullet">
/// <item><c>calls</c>: calls that started in the range (stored time when Vapi sent none).</item>
/// <item><c>bookings</c>: bookings made in the range, by <c>bookings.source</c>: <c>phone</c> → voice, <c>sms_link</c>
/// → smsLink (the follow-up's booking page), <c>waitlist</c> → waitlist, anything else (<c>api</c>, the staff
/// console) → staff. Later cancellations do not uncount them. <c>manageLink</c>: bookings the patient moved or
/// cancelled through their manage link in the range (the manage page changes a booking in place, so these
/// are read from the audit trail's <c>moved</c>/<c>cancelled</c> rows whose actor is the manage link; a
/// booking changed several times counts once).</item>
/// <item><c>followUps</c>: follow-up SMS created in the range that Twilio accepted; booked: those whose lead then
/// booked through its link.</item>
/// <item><c>reminders</c>: reminder SMS queued in the range that Twilio accepted; confirmed: bookings the patient
/// confirmed by a reply in the range.</item>
/// <item><c>noShows</c>: appointments in the range that staff marked <c>did_not_arrive</c>.</item>
/// <item><c>waitlistRefills</c>: bookings made in the range from a waitlist offer (a freed slot filled again).</item>
/// </list>
/// For the console: <c>await ClinicStats.ComputeAsync(session, clinicId, range, ct)</c> with
/// <c>StatsRange.Parse(from, to, zone, now)</c>.
/// </summary>
public static class ClinicStats
{
    sealed record Row(string Timezone, int Calls, int Voice, int SmsLink, int ManageLink, int Waitlist, int Staff, int FollowUpsSent,
        int FollowUpsBooked, int RemindersSent, int RemindersConfirmed, int NoShows);

    // Twilio accepted it (it has a sid), or a person confirmed it went (review queue: mark_sent).
    const string Accepted = "(m.twilio_sid is not null or m.status in ('sent', 'delivered', 'read'))";

    const string Sql = $"""
        with b as (
          select source from bookings where clinic_id = @ClinicId and created_at >= @From and created_at < @To
        )
        select c.timezone,
          (select count(*) from calls k where k.clinic_id = @ClinicId
             and coalesce(k.started_at, k.created_at) >= @From and coalesce(k.started_at, k.created_at) < @To)::int,
          (select count(*) from b where source in ('phone', 'voice'))::int,
          (select count(*) from b where source = 'sms_link')::int,
          (select count(distinct a.entity_id) from audit_trail a
             where a.clinic_id = @ClinicId and a.actor = '{Manage.ManageFlow.Actor}' and a.entity = 'booking' and a.action in ('moved', 'cancelled')
               and a.at >= @From and a.at < @To)::int,
          (select count(*) from b where source = 'waitlist')::int,
          (select count(*) from b where source not in ('phone', 'voice', 'sms_link', 'waitlist'))::int,
          (select count(*) from lead_followups f
             where f.clinic_id = @ClinicId and f.created_at >= @From and f.created_at < @To
               and exists (select 1 from sms_messages m where m.clinic_id = f.clinic_id and m.followup_id = f.id and {Accepted}))::int,
          (select count(*) from lead_followups f join leads l on l.clinic_id = f.clinic_id and l.id = f.lead_id
             where f.clinic_id = @ClinicId and f.created_at >= @From and f.created_at < @To and l.converted_at is not null
               and exists (select 1 from sms_messages m where m.clinic_id = f.clinic_id and m.followup_id = f.id and {Accepted}))::int,
          (select count(*) from sms_messages m where m.clinic_id = @ClinicId and m.purpose = 'reminder'
             and m.created_at >= @From and m.created_at < @To and {Accepted})::int,
          (select count(*) from bookings x where x.clinic_id = @ClinicId and x.confirmed_at >= @From and x.confirmed_at < @To)::int,
          (select count(*) from bookings x where x.clinic_id = @ClinicId and x.attendance = 'did_not_arrive'
             and x.starts_at >= @From and x.starts_at < @To)::int
        from clinics c where c.id = @ClinicId
        """;

    public static async Task<ClinicStatsView?> ComputeAsync(DbSession s, Guid clinicId, StatsRange range, CancellationToken ct)
    {
        var r = await s.QuerySingleOrDefaultAsync<Row>(Sql, new { ClinicId = clinicId, range.From, range.To }, ct);
        return r is null ? null : new ClinicStatsView(range.From, range.To, r.Timezone, r.Calls,
            new BookingCounts(r.Voice, r.SmsLink, r.ManageLink, r.Waitlist, r.Staff),
            new FollowUpCounts(r.FollowUpsSent, r.FollowUpsBooked), new ReminderCounts(r.RemindersSent, r.RemindersConfirmed),
            r.NoShows, r.Waitlist);
    }
}

/// <summary>GET /api/clinics/{clinicId}/stats?from=&amp;to= — staff (admin, receptionist, doctor) and service_role.</summary>
public static class StatsEndpoints
{
    public static void MapStats(this IEndpointRouteBuilder app) =>
        app.MapGroup("/api/clinics/{clinicId:guid}").WithTags("Stats")
            .RequireAuthorization(Auth.Policies.Member)
            .RequireRoles(AppRoles.Admin | AppRoles.Receptionist | AppRoles.Doctor)
            .MapGet("/stats", Get)
            .ProducesProblem(400).ProducesProblem(403).ProducesProblem(404);

    static async Task<Results<Ok<ClinicStatsView>, ProblemHttpResult>> Get(Guid clinicId, string? from, string? to, HttpContext http, Db db,
        CancellationToken ct)
    {
        await using var s = await db.BeginAsync(http.Claims(), ct);
        var timezone = await s.QuerySingleOrDefaultAsync<string>("select timezone from clinics where id = @Id", new { Id = clinicId }, ct);
        if (timezone is null) return Problems.NotFoundProblem("Clinic");
        var (range, problem) = StatsRange.Parse(from, to, ClinicTime.Zone(timezone), DateTimeOffset.UtcNow);
        if (problem is not null) return Problems.Invalid(problem);
        return TypedResults.Ok((await ClinicStats.ComputeAsync(s, clinicId, range!, ct))!);
    }
}
