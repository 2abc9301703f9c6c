using System.Net;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Tests.Infrastructure;
using static Frontdesk.Tests.Calendar.CalendarTestHost;

using Frontdesk.Bench;

namespace Frontdesk.Tests.Calendar;

[Collection(CalendarTestGroup.Name)]
public class CalendarPushTests(GoogleFakeFixture google)
{
    readonly GoogleFake _fake = google.Fake;

    static string EventId(Guid bookingId, int generation) => bookingId.ToString("N") + generation;

    [Fact]
    public async Task A_booking_becomes_an_event_with_its_derived_id_and_moves_and_cancels_follow()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 4, patients: 1);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal);
        using var admin = app.As(c.Id);
        await LinkAsync(_fake, admin, c, cal);

        var bookingId = await ClaimAsync(admin, c, 0);
        var view = await WaitForStatusAsync(admin, c.Id, bookingId, "synced");
        Assert.Equal(EventId(bookingId, 0), view.GetProperty("eventId").GetString());
        Assert.Equal(cal, view.GetProperty("calendarId").GetString());
        var ev = _fake.Event(cal, EventId(bookingId, 0))!;
        var slot0 = await SlotTimesAsync(c.SlotIds[0]);
        Assert.Equal((slot0.Start, slot0.End), (ev.Start, ev.End));
        Assert.Equal(bookingId.ToString(), ev.BookingId);
        Assert.True(_fake.TokenRequests >= 1);

        // Move: the same event, new times.
        using (var r = await admin.PutAsJsonAsync($"/api/bookings/{c.Id}/{bookingId}", new { slotId = c.SlotIds[2] }))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var slot2 = await SlotTimesAsync(c.SlotIds[2]);
        await WaitUntilAsync(() => _fake.Event(cal, EventId(bookingId, 0))!.Start == slot2.Start);
        await WaitForStatusAsync(admin, c.Id, bookingId, "synced");
        Assert.Single(_fake.LiveEvents(cal));

        // Cancel: the event is deleted in Google.
        using (var r = await admin.DeleteAsync($"/api/bookings/{c.Id}/{bookingId}"))
            Assert.Equal(HttpStatusCode.NoContent, r.StatusCode);
        view = await WaitForStatusAsync(admin, c.Id, bookingId, "deleted");
        Assert.Equal(JsonValueKind.Null, view.GetProperty("eventId").ValueKind);
        Assert.Equal("cancelled", _fake.Event(cal, EventId(bookingId, 0))!.Status);
        Assert.Empty(_fake.LiveEvents(cal));
        Assert.Equal(0, _fake.RejectedBearer);
    }

    [Fact]
    public async Task An_insert_whose_answer_times_out_is_retried_into_exactly_one_event()
    {
        var c = await TestClinic.CreateAsync(slots: 2, patients: 1);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal);
        await using (var linking = Start(_fake))
        {
            using var linker = linking.As(c.Id);
            await LinkAsync(_fake, linker, c, cal);
        }
        // This instance gives Google 3 s. Google stores the event but answers long after that.
        await using var app = Start(_fake, timeoutSeconds: 3);
        using var admin = app.As(c.Id);
        _fake.DelayNextInsert = TimeSpan.FromSeconds(15);
        var bookingId = await ClaimAsync(admin, c, 0);
        await WaitForStatusAsync(admin, c.Id, bookingId, "synced");

        Assert.Single(_fake.LiveEvents(cal));
        var path = $"/calendar/v3/calendars/{cal}/events";
        Assert.Equal(1, _fake.CountCalls("POST", path, 409)); // the retry heard "already exists" and took it as success
        Assert.Equal(JsonValueKind.Null, (await BookingCalendarAsync(admin, c.Id, bookingId)).GetProperty("error").ValueKind);
    }

    [Fact]
    public async Task Throttling_and_server_errors_are_retried_and_the_attempts_are_visible()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 2, patients: 1);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal);
        using var admin = app.As(c.Id);
        await LinkAsync(_fake, admin, c, cal);
        await WaitForFirstSyncAsync(admin, c); // so the injected failures hit the booking's event, not the sync

        // Insert-only: a periodic sync running meanwhile must not consume the injected failures.
        _fake.FailNextInsert(429);
        _fake.FailNextInsert(503);
        var bookingId = await ClaimAsync(admin, c, 1);
        var view = await WaitForStatusAsync(admin, c.Id, bookingId, "synced");
        Assert.Equal(2, view.GetProperty("attempts").GetInt32());
        Assert.Single(_fake.LiveEvents(cal));
    }

    [Fact]
    public async Task An_event_deleted_by_staff_in_Google_is_recreated_under_a_new_id_when_the_booking_moves()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 3, patients: 1);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal);
        using var admin = app.As(c.Id);
        await LinkAsync(_fake, admin, c, cal);
        var bookingId = await ClaimAsync(admin, c, 0);
        await WaitForStatusAsync(admin, c.Id, bookingId, "synced");

        // A deleted event's id can never be reused: the next event is generation 1.
        _fake.DeleteEvent(cal, EventId(bookingId, 0));
        using (var r = await admin.PutAsJsonAsync($"/api/bookings/{c.Id}/{bookingId}", new { slotId = c.SlotIds[1] }))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        await WaitUntilAsync(() => _fake.Event(cal, EventId(bookingId, 1)) is not null);
        var view = await WaitForStatusAsync(admin, c.Id, bookingId, "synced");
        Assert.Equal(EventId(bookingId, 1), view.GetProperty("eventId").GetString());
        Assert.Equal((await SlotTimesAsync(c.SlotIds[1])).Start, _fake.Event(cal, EventId(bookingId, 1))!.Start);
    }

    [Fact]
    public async Task A_permanent_error_is_recorded_on_the_booking_and_shown_by_the_API()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 2, patients: 1);
        using var admin = app.As(c.Id);
        var cal = NewCalendarId();
        await LinkAsync(_fake, admin, c, cal);
        _fake.RemoveCalendar(cal); // the owner stopped sharing it: Google answers 404

        var bookingId = await ClaimAsync(admin, c, 0);
        var view = await WaitForStatusAsync(admin, c.Id, bookingId, "failed");
        Assert.Contains("404 notFound", view.GetProperty("error").GetString());
        var status = await TestClinic.Json(await admin.GetAsync($"/api/clinics/{c.Id}/practitioners/{c.PractitionerId}/calendar"));
        Assert.Equal(1, status.GetProperty("failedBookings").GetInt64());
        Assert.Equal(0, status.GetProperty("pendingJobs").GetInt64());
    }

    [Fact]
    public async Task A_calendar_job_failing_longer_than_its_window_is_given_up_and_the_booking_says_failed()
    {
        var c = await TestClinic.CreateAsync(slots: 2, patients: 1);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal);
        try
        {
            await using var app = Start(_fake);
            using var admin = app.As(c.Id);
            // Linking proves the calendar through Google, so it is linked before Google goes down.
            await LinkAsync(_fake, admin, c, cal);
            _fake.Down = true;
            var bookingId = await ClaimAsync(admin, c, 0, 0);
            await Frontdesk.Tests.Calls.FollowUpTests.WaitUntilAsync(async () => await TestApp.ScalarAsync<int>("select attempts from calendar_jobs where booking_id = $1", bookingId) >= 1, 60);
            // Google has been failing for three days and a bit (the default window is 72 h).
            await TestApp.ExecAsync("update calendar_jobs set failing_since = now() - interval '73 hours' where booking_id = $1", bookingId);
            var view = await WaitForStatusAsync(admin, c.Id, bookingId, "failed");
            Assert.StartsWith("gave up after 72 h of failures", view.GetProperty("error").GetString());
            Assert.NotNull(await TestApp.ScalarAsync<DateTime?>("select done_at from calendar_jobs where booking_id = $1", bookingId));
            Assert.Null(await TestApp.ScalarAsync<DateTime?>("select failing_since from calendar_jobs where booking_id = $1", bookingId));
            Assert.Equal("confirmed", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", bookingId));
        }
        finally
        {
            _fake.Down = false;
        }
    }

    [Fact]
    public async Task An_event_Google_refuses_for_good_fails_the_sync_at_once_in_Googles_words_and_the_booking_stands()
    {
        var c = await TestClinic.CreateAsync(slots: 2, patients: 1);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal);
        await using var app = Start(_fake);
        using var admin = app.As(c.Id);
        await LinkAsync(_fake, admin, c, cal);
        // The owner takes Frontdesk's write access away: every call about the calendar is a 403 that no retry mends.
        _fake.FailCalendar(cal, 403, "forbidden", "The caller does not have permission");
        try
        {
            var bookingId = await ClaimAsync(admin, c, 0, 0);
            var view = await WaitForStatusAsync(admin, c.Id, bookingId, "failed");
            Assert.Equal("Google answered 403 forbidden: The caller does not have permission", view.GetProperty("error").GetString());
            // Finished, not waiting for a retry: nothing scheduled, nothing left for the worker.
            Assert.NotNull(await TestApp.ScalarAsync<DateTime?>("select done_at from calendar_jobs where booking_id = $1", bookingId));
            Assert.Equal("confirmed", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", bookingId));
            Assert.Empty(_fake.LiveEvents(cal));
        }
        finally
        {
            _fake.HealCalendar(cal);
        }
    }

    [Fact]
    public async Task With_Google_down_bookings_succeed_and_their_events_arrive_after_a_restart_when_it_returns()
    {
        var c = await TestClinic.CreateAsync(slots: 3, patients: 2);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal);
        Guid first, second;
        try
        {
            await using (var app = Start(_fake))
            {
                using var admin = app.As(c.Id);
                await LinkAsync(_fake, admin, c, cal);   // linking checks the calendar with Google: before the outage
                _fake.Down = true;
                var sw = System.Diagnostics.Stopwatch.StartNew();
                first = await ClaimAsync(admin, c, 0, 0);
                second = await ClaimAsync(admin, c, 1, 1);
                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), "a Google outage must not slow bookings down");
                // The worker tried and is waiting.
                var until = DateTime.UtcNow.AddSeconds(60);
                JsonElement view;
                do view = await BookingCalendarAsync(admin, c.Id, first);
                while (view.GetProperty("attempts").GetInt32() == 0 && DateTime.UtcNow < until && await Delay());
                Assert.Equal("pending", view.GetProperty("status").GetString());
                Assert.True(view.GetProperty("attempts").GetInt32() >= 1, view.ToString());
                Assert.StartsWith("Google", view.GetProperty("error").GetString());
            }
            Assert.Empty(_fake.LiveEvents(cal));
        }
        finally
        {
            _fake.Down = false;
        }

        // A new instance on the same database finds the jobs and completes them.
        await using var restarted = Start(_fake);
        using var admin2 = restarted.As(c.Id);
        await WaitForStatusAsync(admin2, c.Id, first, "synced");
        await WaitForStatusAsync(admin2, c.Id, second, "synced");
        Assert.Equal(2, _fake.LiveEvents(cal).Count);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from calendar_jobs where clinic_id = $1 and done_at is null", c.Id));
    }

    [Fact]
    public async Task A_worker_stopped_mid_batch_hands_back_every_job_of_the_batch_at_once()
    {
        // CI saw a job wait out its 3-minute lease after a restart: it had been claimed in the same batch
        // as the job being applied when the instance stopped, and nothing released it.
        var c = await TestClinic.CreateAsync(slots: 3, patients: 3);
        var cal = NewCalendarId();
        await using var app = Start(_fake).WithWebHostBuilder(b => b.ConfigureTestServices(TestApp.WithoutWorkers));
        using var admin = app.As(c.Id);
        await LinkAsync(_fake, admin, c, cal);
        for (var i = 0; i < 3; i++) await ClaimAsync(admin, c, i, i);
        Assert.Equal(3L, await TestApp.ScalarAsync<long>("select count(*) from calendar_jobs where clinic_id = $1 and done_at is null", c.Id));

        // The first insert lands in Google and then hangs; the instance stops while it waits.
        _fake.DelayNextInsert = TimeSpan.FromSeconds(20);
        var push = app.Services.GetRequiredService<Frontdesk.Calendar.CalendarPush>();
        using var stop = new CancellationTokenSource();
        var run = push.RunDueAsync(16, stop.Token);
        await WaitUntilAsync(() => _fake.LiveEvents(cal).Count == 1, 30);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);

        Assert.Equal(0L, await TestApp.ScalarAsync<long>(
            "select count(*) from calendar_jobs where clinic_id = $1 and locked_until > now()", c.Id));
        // So the next pass (here or on another instance) takes all three now, and the hung insert's
        // event is recognised rather than duplicated.
        Assert.Equal(3, await push.RunDueAsync(16, CancellationToken.None));
        Assert.Equal(3, _fake.LiveEvents(cal).Count);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from calendar_jobs where clinic_id = $1 and done_at is null", c.Id));
    }

    static async Task<bool> Delay()
    {
        await Task.Delay(100);
        return true;
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, int seconds = 60)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException("condition not met in time");
            await Task.Delay(100);
        }
    }
}
