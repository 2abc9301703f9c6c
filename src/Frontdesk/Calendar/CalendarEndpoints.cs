using Frontdesk.Audit;
using Frontdesk.Tenancy;

namespace Frontdesk.Calendar;

/// <summary>calendarId null unlinks.</summary>
public sealed record LinkCalendar(string? CalendarId);

public sealed record CalendarLinkView(Guid PractitionerId, string? CalendarId, int BookingsQueued);

/// <summary>How a clinic proves it controls a calendar before linking it.</summary>
public sealed record CalendarVerificationView(string Code, string? ServiceAccount, string Instructions);

public sealed record CalendarStatusView(Guid PractitionerId, string? CalendarId, bool SyncEnabled, string State,
    DateTimeOffset? LastSyncedAt, DateTimeOffset? LastAttemptAt, string? LastError, DateTimeOffset? NextSyncAt,
    long BusySlots, long PendingJobs, long FailedBookings, bool PushChannel, DateTimeOffset? ChannelExpiresAt, DateTimeOffset? VerifiedAt);

public sealed record BookingCalendarView(Guid BookingId, string? Status, string? EventId, string? CalendarId, string? Error,
    DateTimeOffset? SyncedAt, int Attempts, DateTimeOffset? NextAttemptAt);

public static class CalendarEndpoints
{
    public static IServiceCollection AddCalendar(this IServiceCollection services)
    {
        services.AddOptions<CalendarOptions>()
            .Configure<IConfiguration>(CalendarOptions.Bind)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<CalendarOptions>>().Value);
        // One client for the process: the credential caches its access token; connections are
        // recycled so a DNS change of Google's endpoint is picked up.
        services.AddSingleton(sp => new GoogleCalendarClient(
            new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }),
            sp.GetRequiredService<CalendarOptions>()));
        services.AddSingleton<CalendarSignal>();
        services.AddSingleton<CalendarPush>();
        services.AddSingleton<CalendarSync>();
        services.AddHostedService<CalendarWorker>();
        return services;
    }

    public static void MapCalendar(this IEndpointRouteBuilder app)
    {
        var health = app.ServiceProvider.GetRequiredService<HealthDetails>();
        var enabled = app.ServiceProvider.GetRequiredService<GoogleCalendarClient>().Enabled;
        health.Add("calendar", () => enabled ? "on" : "off: GOOGLE_APPLICATION_CREDENTIALS is not set; calendar jobs wait");

        var practitioner = app.MapGroup("/api/clinics/{clinicId}/practitioners/{practitionerId}/calendar").WithTags("Calendar")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter);
        practitioner.MapPut("", Link);
        practitioner.MapGet("", Status);
        practitioner.MapPost("/sync", SyncNow);

        app.MapGet("/api/clinics/{clinicId}/calendar/verification", Verification).WithTags("Calendar")
            .RequireAuthorization(Auth.Policies.Member)
            .RequireRoles(AppRoles.Admin);

        app.MapGroup("/api/bookings/{clinicId}").WithTags("Bookings")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter)
            .MapGet("/{bookingId}/calendar", BookingCalendar);

        app.MapCalendarNotifications();
    }

    static string Instructions(string code, string? serviceAccount) =>
        $"In Google Calendar, open the calendar's Settings and sharing: share it with {serviceAccount ?? "the service account of GOOGLE_APPLICATION_CREDENTIALS"} "
        + $"(\"Make changes to events\"), and put {code} anywhere in its Description. Then PUT its id to "
        + "/api/clinics/{clinicId}/practitioners/{practitionerId}/calendar. The code may stay in the description.";

    static async Task<Results<Ok<CalendarVerificationView>, ProblemHttpResult>> Verification(Guid clinicId, HttpContext http, Db db,
        GoogleCalendarClient google, CancellationToken ct) =>
        await db.QueryOnceAsync<string>(http.Claims(), "select calendar_verification_code from clinics where id = @Id", new { Id = clinicId }, ct) is [var code]
            ? TypedResults.Ok(new CalendarVerificationView(code, google.ServiceAccountEmail, Instructions(code, google.ServiceAccountEmail)))
            : Problems.NotFoundProblem("Clinic");

    sealed record LinkTarget(string Code, bool Practitioner);

    /// <summary>
    /// The calendar's canonical id when Google shows it to the service account and its description
    /// carries the clinic's verification code; otherwise the problem to answer (issue 14: one
    /// service account serves every clinic, so being reachable proves nothing about whose it is).
    /// </summary>
    static async Task<(string? CalendarId, ProblemHttpResult? Problem)> VerifyAsync(GoogleCalendarClient google, string calendarId, string code, CancellationToken ct)
    {
        if (!google.Enabled)
            return (null, Problems.Problem(503, Problems.Unavailable, "Calendar sync is off",
                "Linking checks the calendar with Google, and GOOGLE_APPLICATION_CREDENTIALS is not set."));
        GoogleResponse r;
        try { r = await google.GetCalendarAsync(calendarId, ct); }
        catch (GoogleUnavailableException e)
        {
            return (null, Problems.Problem(503, Problems.Unavailable, "Google could not be reached", e.Message + "; try again."));
        }
        if (r.Status is 404 || (r.Status is 403 && !r.Transient))
            return (null, Problems.Problem(422, Problems.CalendarNotShared, "Google does not show this calendar to Frontdesk",
                $"Share the calendar with {google.ServiceAccountEmail} (\"Make changes to events\"), or check its id."));
        if (!r.Ok)
            return (null, Problems.Problem(r.Transient ? 503 : 502, r.Transient ? Problems.Unavailable : Problems.Upstream,
                "Google could not check the calendar", r.Describe()));
        var description = r.Body.ValueKind == System.Text.Json.JsonValueKind.Object && r.Body.TryGetProperty("description", out var d)
                          && d.ValueKind == System.Text.Json.JsonValueKind.String ? d.GetString() : null;
        if (description is null || !description.Contains(code, StringComparison.OrdinalIgnoreCase))
            return (null, Problems.Problem(422, Problems.CalendarNotVerified, "The calendar does not carry this clinic's verification code",
                Instructions(code, google.ServiceAccountEmail), new Dictionary<string, object?> { ["verificationCode"] = code }));
        // Google's own id for the calendar: another spelling of it cannot be linked a second time.
        var canonical = r.Body.TryGetProperty("id", out var id) && id.ValueKind == System.Text.Json.JsonValueKind.String
                        && id.GetString() is { Length: > 0 and <= 1024 } g ? g : calendarId;
        return (canonical, null);
    }

    internal static async Task<Results<Ok<CalendarLinkView>, ProblemHttpResult>> Link(Guid clinicId, Guid practitionerId, LinkCalendar body,
        HttpContext http, Db db, CalendarSignal signal, GoogleCalendarClient google, CancellationToken ct)
    {
        var calendarId = body.CalendarId;
        if (calendarId is not null && (calendarId.Length is 0 or > 1024 || calendarId.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
            return Problems.Invalid("calendarId must be 1 to 1024 characters without spaces, or null to unlink.");
        // "primary" names the service account's own calendar, which every clinic would share.
        if (string.Equals(calendarId, "primary", StringComparison.OrdinalIgnoreCase))
            return Problems.Invalid("calendarId must name a practitioner's calendar; \"primary\" is the service account's own.");
        var claims = http.Claims();
        if (claims.Deny(AppRoles.Admin, "Only a clinic admin may link calendars") is { } denied) return denied;

        if (calendarId is not null)
        {
            var target = await db.QueryOnceAsync<LinkTarget>(claims, """
                select c.calendar_verification_code, exists (select 1 from practitioners p where p.clinic_id = c.id and p.id = @PractitionerId)
                from clinics c where c.id = @ClinicId
                """, new { ClinicId = clinicId, PractitionerId = practitionerId }, ct);
            if (target is not [{ Practitioner: true } t]) return Problems.NotFoundProblem("Practitioner");
            var (canonical, problem) = await VerifyAsync(google, calendarId, t.Code, ct);
            if (problem is not null) return problem;
            calendarId = canonical;
        }

        try
        {
            return await LinkVerifiedAsync(clinicId, practitionerId, calendarId, claims, db, signal, ct);
        }
        catch (Npgsql.PostgresException e) when (e is { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation, ConstraintName: "calendar_links_pkey" })
        {
            // Visible to this clinic's claims only when one of its own practitioners holds it.
            var own = await db.QueryOnceAsync<Guid>(claims, "select practitioner_id from calendar_links where calendar_key = public.sha256_utf8(lower(@CalendarId))",
                new { CalendarId = calendarId }, ct);
            return Problems.Problem(409, Problems.CalendarLinkedElsewhere, "This calendar is already linked",
                own is [var p] ? $"It is linked to practitioner {p} of this clinic; unlink it there first."
                               : "It is linked to another clinic. A calendar mirrors one practitioner's diary in one clinic.");
        }
    }

    static async Task<Results<Ok<CalendarLinkView>, ProblemHttpResult>> LinkVerifiedAsync(Guid clinicId, Guid practitionerId, string? calendarId,
        RequestClaims claims, Db db, CalendarSignal signal, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(claims, ct);
        var args = new { ClinicId = clinicId, PractitionerId = practitionerId, CalendarId = calendarId };
        var previous = await s.QueryAsync<string?>("""
            with old as (select calendar_id from practitioners where clinic_id = @ClinicId and id = @PractitionerId for update)
            update practitioners p set calendar_id = @CalendarId from old
             where p.clinic_id = @ClinicId and p.id = @PractitionerId
            returning old.calendar_id
            """, args, ct);
        if (previous.Count == 0) return Problems.NotFoundProblem("Practitioner");
        var changed = previous[0] != calendarId;
        if (changed)
        {
            if (calendarId is null)
            {
                // Unlinked: Google no longer speaks for this diary.
                await s.ExecuteAsync("delete from calendar_syncs where clinic_id = @ClinicId and practitioner_id = @PractitionerId", args, ct);
                await s.ExecuteAsync("update calendar_slots set busy = false where clinic_id = @ClinicId and practitioner_id = @PractitionerId and busy", args, ct);
            }
            else
            {
                await s.ExecuteAsync("delete from calendar_syncs where clinic_id = @ClinicId and practitioner_id = @PractitionerId", args, ct);
                await s.ExecuteAsync("insert into calendar_syncs (clinic_id, practitioner_id, calendar_id) values (@ClinicId, @PractitionerId, @CalendarId)", args, ct);
            }
        }
        var queued = changed ? await s.QuerySingleOrDefaultAsync<int>("select public.calendar_relink(@ClinicId, @PractitionerId)", args, ct) : 0;
        if (queued > 0) s.Changed(Booking.SlotEngine.BookingsTopic);   // other instances' workers hear of the jobs after commit
        // The proof just checked (also for an unchanged link: relinking verifies an older one).
        if (calendarId is not null)
            await s.ExecuteAsync("update calendar_links set verified_at = now() where clinic_id = @ClinicId and practitioner_id = @PractitionerId", args, ct);
        if (changed)
            // The calendar id is often a person's address: the audit row says what happened, not which.
            await AuditLog.WriteAsync(s, clinicId, calendarId is null ? "calendar_unlinked" : "calendar_linked", "practitioner",
                practitionerId.ToString(), new { bookingsQueued = queued }, ct);
        await s.CommitAsync(ct);
        signal.Set();
        return TypedResults.Ok(new CalendarLinkView(practitionerId, calendarId, queued));
    }

    const string StatusSql = """
        select p.id, p.calendar_id, coalesce(s.state, case when p.calendar_id is null then 'not_linked' else 'pending' end),
               s.last_synced_at, s.last_attempt_at, s.last_error, s.next_sync_at,
               (select count(*) from calendar_slots cs where cs.clinic_id = p.clinic_id and cs.practitioner_id = p.id and cs.busy),
               (select count(*) from calendar_jobs j join bookings b on b.clinic_id = j.clinic_id and b.id = j.booking_id
                 where j.clinic_id = p.clinic_id and b.practitioner_id = p.id and j.done_at is null),
               (select count(*) from bookings b where b.clinic_id = p.clinic_id and b.practitioner_id = p.id and b.calendar_status = 'failed'),
               s.channel_id is not null and s.channel_expires_at > now(), s.channel_expires_at,
               (select l.verified_at from calendar_links l where l.clinic_id = p.clinic_id and l.practitioner_id = p.id)
          from practitioners p
          left join calendar_syncs s on s.clinic_id = p.clinic_id and s.practitioner_id = p.id
         where p.clinic_id = @ClinicId and p.id = @PractitionerId
        """;

    sealed record StatusRow(Guid PractitionerId, string? CalendarId, string State, DateTimeOffset? LastSyncedAt, DateTimeOffset? LastAttemptAt,
        string? LastError, DateTimeOffset? NextSyncAt, long BusySlots, long PendingJobs, long FailedBookings, bool PushChannel, DateTimeOffset? ChannelExpiresAt,
        DateTimeOffset? VerifiedAt);

    static async Task<CalendarStatusView?> ReadStatusAsync(Db db, RequestClaims claims, Guid clinicId, Guid practitionerId, bool enabled, CancellationToken ct) =>
        (await db.QueryOnceAsync<StatusRow>(claims, StatusSql, new { ClinicId = clinicId, PractitionerId = practitionerId }, ct)) is [var r]
            ? new CalendarStatusView(r.PractitionerId, r.CalendarId, enabled, r.State, r.LastSyncedAt, r.LastAttemptAt, r.LastError,
                r.NextSyncAt, r.BusySlots, r.PendingJobs, r.FailedBookings, r.PushChannel, r.ChannelExpiresAt, r.VerifiedAt)
            : null;

    static async Task<Results<Ok<CalendarStatusView>, ProblemHttpResult>> Status(Guid clinicId, Guid practitionerId, HttpContext http,
        Db db, GoogleCalendarClient google, CancellationToken ct) =>
        await ReadStatusAsync(db, http.Claims(), clinicId, practitionerId, google.Enabled, ct) is { } view
            ? TypedResults.Ok(view) : Problems.NotFoundProblem("Practitioner");

    /// <summary>Reads busy time from Google now and answers with the resulting status.</summary>
    static async Task<Results<Ok<CalendarStatusView>, ProblemHttpResult>> SyncNow(Guid clinicId, Guid practitionerId, HttpContext http,
        Db db, GoogleCalendarClient google, CalendarSync sync, CancellationToken ct)
    {
        if (!google.Enabled)
            return Problems.Problem(503, Problems.Unavailable, "Calendar sync is off", "GOOGLE_APPLICATION_CREDENTIALS is not set.");
        var claims = http.Claims();
        CalendarSync.Target? target;
        try { target = await sync.LeaseAsync(claims, clinicId, practitionerId, TimeSpan.FromSeconds(30), ct); }
        catch (TimeoutException) { return Problems.ConflictProblem("A sync of this calendar is still running; try again shortly."); }
        if (target is null)
            return await ReadStatusAsync(db, claims, clinicId, practitionerId, true, ct) is null
                ? Problems.NotFoundProblem("Practitioner")
                : Problems.ConflictProblem("This practitioner has no linked calendar.");
        await sync.SyncAsync(claims, target, ct);
        return TypedResults.Ok((await ReadStatusAsync(db, claims, clinicId, practitionerId, true, ct))!);
    }

    static async Task<Results<Ok<BookingCalendarView>, ProblemHttpResult>> BookingCalendar(Guid clinicId, Guid bookingId, HttpContext http, Db db, CancellationToken ct) =>
        await db.QueryOnceAsync<BookingCalendarView>(http.Claims(), """
            select b.id, b.calendar_status, b.calendar_event_id, b.calendar_event_calendar, b.calendar_error, b.calendar_synced_at,
                   coalesce(j.attempts, 0), case when j.done_at is null then j.next_attempt_at end
              from bookings b
              left join calendar_jobs j on j.clinic_id = b.clinic_id and j.booking_id = b.id
             where b.clinic_id = @ClinicId and b.id = @BookingId
            """, new { ClinicId = clinicId, BookingId = bookingId }, ct) is [var v]
            ? TypedResults.Ok(v) : Problems.NotFoundProblem("Booking");
}
