using System.Text.Json.Nodes;

namespace Frontdesk.Calendar;

/// <summary>
/// Applies calendar jobs: each job converges one booking's Google event on the booking's current
/// state (create, move, cancel, relink all reduce to that), so replays, coalesced changes and
/// retries after a timeout are harmless. Runs as the worker system path.
/// </summary>
public sealed partial class CalendarPush(Db db, GoogleCalendarClient google, CalendarOptions options, ILogger<CalendarPush> log)
{
    static readonly RequestClaims Worker = RequestClaims.AsSystem(SystemPath.Worker);

    sealed record Job(long Id, Guid ClinicId, Guid BookingId, int Version, int Attempts, DateTimeOffset LockedUntil);

    sealed record BookingState(string Status, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string? TargetCalendar,
        string? EventId, string? EventCalendar, int Generation, string Timezone);

    /// <summary>The event id for a booking's nth event: lowercase hex of the booking id plus the
    /// generation — only a–v and 0–9, 33+ characters, as Google requires; a new generation after
    /// every delete because a deleted event's id stays taken.</summary>
    public static string EventId(Guid bookingId, int generation) =>
        bookingId.ToString("N") + generation.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Claims and applies up to <paramref name="limit"/> due jobs; returns how many it took.</summary>
    public async Task<int> RunDueAsync(int limit, CancellationToken ct)
    {
        // SKIP LOCKED + a lease: instances never take the same job, and no lock is held across HTTP.
        var jobs = await db.QueryOnceAsync<Job>(Worker, """
            with due as (
              select clinic_id, id from calendar_jobs
               where done_at is null and next_attempt_at <= now() and (locked_until is null or locked_until < now())
               order by next_attempt_at limit @Limit
               for update skip locked)
            update calendar_jobs j set locked_until = now() + make_interval(secs => @Lease)
              from due where j.clinic_id = due.clinic_id and j.id = due.id
            returning j.id, j.clinic_id, j.booking_id, j.version, j.attempts, j.locked_until
            """, new { Limit = limit, Lease = Math.Max(30, options.TimeoutSeconds * 6) }, ct);
        // Released on a stop only while the lease is still ours (same locked_until).
        await ClaimedBatch.RunAsync(jobs, job => ApplyAsync(job, ct), rest => db.QueryOnceAsync<int>(Worker, """
            update calendar_jobs set locked_until = null
             where id = any(@Ids) and locked_until = @Until
            returning 1
            """, new { Ids = rest.Select(j => j.Id).ToArray(), Until = rest[0].LockedUntil }, CancellationToken.None), ct);
        return jobs.Count;
    }

    async Task ApplyAsync(Job job, CancellationToken ct)
    {
        var state = (await db.QueryOnceAsync<BookingState>(Worker, """
            select b.status, b.starts_at, b.ends_at, p.calendar_id, b.calendar_event_id, b.calendar_event_calendar,
                   b.calendar_generation, c.timezone
              from bookings b
              join practitioners p on p.clinic_id = b.clinic_id and p.id = b.practitioner_id
              join clinics c on c.id = b.clinic_id
             where b.clinic_id = @ClinicId and b.id = @BookingId
            """, new { job.ClinicId, job.BookingId }, ct)).Single();

        var eventId = state.EventId;
        var eventCalendar = state.EventCalendar;
        var generation = state.Generation;
        try
        {
            var desired = state.Status == "confirmed" ? state.TargetCalendar : null;

            // An event that should not exist where it is: cancelled booking, unlinked or relinked calendar.
            if (eventId is not null && (desired is null || eventCalendar != desired))
            {
                var r = await google.DeleteEventAsync(eventCalendar!, eventId, ct);
                // 410 Gone: already deleted (a retry, or staff deleted it); 404: never there.
                if (!r.Ok && r.Status is not (404 or 410)) { await FailAsync(job, r, eventId, eventCalendar, generation, ct); return; }
                eventId = null;
                eventCalendar = null;
                generation++;
            }

            if (desired is not null)
            {
                if (eventId is not null)
                {
                    var r = await google.PatchEventAsync(desired, eventId, Times(state), ct);
                    if (r.Status is 404 or 410)
                    {
                        // Deleted in Google by hand: the booking still stands, so it gets a new event.
                        eventId = null;
                        generation++;
                    }
                    else if (!r.Ok) { await FailAsync(job, r, eventId, eventCalendar, generation, ct); return; }
                }
                // Two rounds at most: the second only when the id we would use belongs to a deleted event.
                for (var round = 0; eventId is null && round < 2; round++)
                {
                    var id = EventId(job.BookingId, generation);
                    var r = await google.InsertEventAsync(desired, Event(id, job.BookingId, state), ct);
                    if (r.Status == 409)
                    {
                        // "The requested identifier already exists": our earlier attempt landed (e.g. its
                        // answer timed out). Make sure it carries the current times.
                        r = await google.PatchEventAsync(desired, id, Times(state), ct);
                        if (r.Status is 404 or 410) { generation++; continue; }
                    }
                    if (!r.Ok) { await FailAsync(job, r, null, null, generation, ct); return; }
                    eventId = id;
                    eventCalendar = desired;
                }
                if (eventId is null) { await DoneAsync(job, "failed", "Event ids of this booking are taken by deleted events", null, null, generation, ct); return; }
            }

            var status = desired is not null ? "synced" : state.Status == "cancelled" && state.EventId is not null ? "deleted" : null;
            await DoneAsync(job, status, null, eventId, eventCalendar, generation, ct);
        }
        catch (GoogleUnavailableException e)
        {
            await RetryAsync(job, e.Message, eventId, eventCalendar, generation, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutting down: hand the job back now rather than when the lease runs out (a crash
            // leaves it to the lease). What already happened in Google is recorded so nothing repeats blindly.
            await RetryAsync(job, "interrupted by shutdown", eventId, eventCalendar, generation, CancellationToken.None, countAttempt: false);
            throw;
        }
    }

    static JsonObject Times(BookingState s) => new()
    {
        ["start"] = new JsonObject { ["dateTime"] = s.StartsAt.ToUniversalTime().ToString("O"), ["timeZone"] = s.Timezone },
        ["end"] = new JsonObject { ["dateTime"] = s.EndsAt.ToUniversalTime().ToString("O"), ["timeZone"] = s.Timezone },
    };

    // No patient data in the event: the clinic sees the appointment and opens Frontdesk for the rest.
    static JsonObject Event(string id, Guid bookingId, BookingState s)
    {
        var ev = Times(s);
        ev["id"] = id;
        ev["summary"] = "Appointment (Frontdesk)";
        ev["description"] = $"Booked through Frontdesk (booking {bookingId}). Move or cancel it in Frontdesk; changes made here are overwritten.";
        ev["transparency"] = "opaque";
        ev["extendedProperties"] = new JsonObject { ["private"] = new JsonObject { ["frontdeskBookingId"] = bookingId.ToString() } };
        return ev;
    }

    async Task FailAsync(Job job, GoogleResponse r, string? eventId, string? eventCalendar, int generation, CancellationToken ct)
    {
        if (r.Transient) { await RetryAsync(job, r.Describe(), eventId, eventCalendar, generation, ct); return; }
        Log.PermanentFailure(log, job.BookingId, r.Status, r.Reason ?? "");
        await DoneAsync(job, "failed", r.Describe(), eventId, eventCalendar, generation, ct);
    }

    // The job is finished only if no newer change re-armed it meanwhile (version); the booking's
    // event columns record what exists in Google either way.
    async Task DoneAsync(Job job, string? status, string? error, string? eventId, string? eventCalendar, int generation, CancellationToken ct) =>
        await db.QueryOnceAsync<int>(Worker, """
            with j as (
              update calendar_jobs
                 set done_at = case when version = @Version then now() end,
                     last_error = case when version = @Version then @Error end,
                     failing_since = case when version = @Version then null else failing_since end,
                     locked_until = null, updated_at = now()
               where clinic_id = @ClinicId and id = @JobId
              returning version = @Version as current)
            update bookings
               set calendar_event_id = @EventId, calendar_event_calendar = @EventCalendar, calendar_generation = @Generation,
                   calendar_status = case when (select current from j) then @Status else calendar_status end,
                   calendar_error = case when (select current from j) then @Error else calendar_error end,
                   calendar_synced_at = case when (select current from j) and @Error is null then now() else calendar_synced_at end
             where clinic_id = @ClinicId and id = @BookingId
            returning 1
            """, new
        {
            JobId = job.Id, job.Version, job.ClinicId, job.BookingId, Status = status, Error = error,
            EventId = eventId, EventCalendar = eventCalendar, Generation = generation,
        }, ct);

    // Transient: durable backoff in the row, so a restart or another instance picks it up on time.
    // Bounded by usefulness (ARCHITECTURE decision 13): once failures have lasted GiveUpHours the job
    // is done and the booking says 'failed', so nobody believes the calendar is in step.
    async Task RetryAsync(Job job, string error, string? eventId, string? eventCalendar, int generation, CancellationToken ct, bool countAttempt = true)
    {
        var gaveUp = await db.QueryOnceAsync<bool>(Worker, """
            with j as (
              update calendar_jobs
                 set attempts = case when version = @Version and @Count then attempts + 1 else attempts end,
                     next_attempt_at = case when version = @Version and @Count then now() + make_interval(secs => @Delay) else next_attempt_at end,
                     -- Reset when given up, so a later change of the booking starts a fresh window.
                     failing_since = case when version = @Version and @Count
                                          then (case when failing_since < now() - make_interval(secs => @GiveUp) then null else coalesce(failing_since, now()) end)
                                          else failing_since end,
                     done_at = case when version = @Version and @Count and failing_since < now() - make_interval(secs => @GiveUp) then now() end,
                     last_error = @Error, locked_until = null, updated_at = now()
               where clinic_id = @ClinicId and id = @JobId
              returning done_at is not null as gave_up)
            update bookings
               set calendar_event_id = @EventId, calendar_event_calendar = @EventCalendar, calendar_generation = @Generation,
                   calendar_status = case when (select gave_up from j) then 'failed' else calendar_status end,
                   calendar_error = case when (select gave_up from j) then 'gave up after ' || @GiveUpHours || ' h of failures: ' || @Error else @Error end
             where clinic_id = @ClinicId and id = @BookingId and exists (select 1 from j)
            returning (select gave_up from j)
            """, new
        {
            JobId = job.Id, job.Version, job.ClinicId, job.BookingId, Error = error, Delay = options.Backoff(job.Attempts).TotalSeconds, Count = countAttempt,
            EventId = eventId, EventCalendar = eventCalendar, Generation = generation, GiveUp = options.GiveUpHours * 3600,
            GiveUpHours = options.GiveUpHours.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture),
        }, ct);
        if (gaveUp is [true]) Log.GaveUp(log, job.BookingId, options.GiveUpHours);
        else Log.WillRetry(log, job.BookingId, job.Attempts + 1);
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Calendar event of booking {BookingId} failed permanently: Google answered {Status} {Reason}")]
        public static partial void PermanentFailure(ILogger logger, Guid bookingId, int status, string reason);

        [LoggerMessage(Level = LogLevel.Error, Message = "Calendar event of booking {BookingId}: given up after {Hours} h of failures; the booking's calendar status says failed")]
        public static partial void GaveUp(ILogger logger, Guid bookingId, double hours);

        [LoggerMessage(Level = LogLevel.Information, Message = "Calendar event of booking {BookingId} will be retried (attempt {Attempt})")]
        public static partial void WillRetry(ILogger logger, Guid bookingId, int attempt);
    }
}
