using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.TestHost;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Tests.Infrastructure;
using static Frontdesk.Tests.Calendar.CalendarTestHost;

using Frontdesk.Bench;

namespace Frontdesk.Tests.Calendar;

[Collection(CalendarTestGroup.Name)]
public class CalendarSyncTests(GoogleFakeFixture google)
{
    readonly GoogleFake _fake = google.Fake;

    [Fact]
    public async Task A_busy_period_in_Google_makes_the_slot_unavailable_and_claims_get_409_with_alternatives_until_it_goes()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 5, patients: 2);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal);
        using var admin = app.As(c.Id);
        await LinkAsync(_fake, admin, c, cal);

        // A booking's own event must not block its slot; a surgeon's block does.
        var own = await ClaimAsync(admin, c, 0);
        await WaitForStatusAsync(admin, c.Id, own, "synced");
        var slot2 = await SlotTimesAsync(c.SlotIds[2]);
        var block = _fake.AddEvent(cal, slot2.Start.AddMinutes(10), slot2.End.AddMinutes(-10));
        var status = await SyncAsync(admin, c);
        Assert.Equal("ok", status.GetProperty("state").GetString());
        Assert.Equal(1, status.GetProperty("busySlots").GetInt64());

        var available = await AvailabilityAsync(admin, c);
        Assert.False(available[c.SlotIds[2]]);
        Assert.True(available[c.SlotIds[1]]);
        Assert.False(await TestApp.ScalarAsync<bool>("select busy from calendar_slots where id = $1", c.SlotIds[0]));
        Assert.Equal(own, await TestApp.ScalarAsync<Guid>(
            "select booking_id from calendar_events where clinic_id = $1 and booking_id is not null", c.Id));

        using (var r = await admin.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = c.SlotIds[2], patientId = c.PatientIds[1], clinicId = c.Id }))
        {
            Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
            var body = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
            var alternatives = body.GetProperty("alternatives").EnumerateArray().Select(a => a.GetProperty("slotId").GetGuid()).ToList();
            Assert.NotEmpty(alternatives);
            Assert.DoesNotContain(c.SlotIds[2], alternatives);
            Assert.DoesNotContain(c.SlotIds[0], alternatives);
        }

        // The surgeon frees the time: the slot is free again.
        _fake.DeleteEvent(cal, block);
        status = await SyncAsync(admin, c);
        Assert.Equal(0, status.GetProperty("busySlots").GetInt64());
        Assert.True((await AvailabilityAsync(admin, c))[c.SlotIds[2]]);
        Assert.Equal(c.SlotIds[2].ToString(), (await TestClinic.Json(await admin.PostAsJsonAsync("/functions/v1/claim_slot_atomic",
            new { slotId = c.SlotIds[2], patientId = c.PatientIds[1], clinicId = c.Id }))).GetProperty("slotId").GetString());
    }

    [Fact]
    public async Task A_worker_stopped_mid_batch_releases_every_calendar_of_the_batch_at_once()
    {
        var a = await TestClinic.CreateAsync(slots: 1, patients: 0);
        var b = await TestClinic.CreateAsync(slots: 1, patients: 0);
        var (calA, calB) = (NewCalendarId(), NewCalendarId());
        await using var app = Start(_fake).WithWebHostBuilder(w => w.ConfigureTestServices(TestApp.WithoutWorkers));
        using (var admin = app.As(a.Id)) await LinkAsync(_fake, admin, a, calA);
        using (var admin = app.As(b.Id)) await LinkAsync(_fake, admin, b, calB);
        // Both due, A first of everything due on this database; A's events.list hangs and the instance stops.
        await TestApp.ExecAsync("update calendar_syncs set next_sync_at = '2000-01-01', locked_until = null where clinic_id = $1", a.Id);
        await TestApp.ExecAsync("update calendar_syncs set next_sync_at = '2000-01-02', locked_until = null where clinic_id = $1", b.Id);
        _fake.DelayNextListOf = (calA, TimeSpan.FromSeconds(20));
        var sync = app.Services.GetRequiredService<Frontdesk.Calendar.CalendarSync>();
        using var stop = new CancellationTokenSource();
        var run = sync.RunDueAsync(2, stop.Token);
        await CalendarPushTests.WaitUntilAsync(() => _fake.DelayNextListOf is null, 30);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);

        Assert.Equal(0L, await TestApp.ScalarAsync<long>(
            "select count(*) from calendar_syncs where clinic_id in ($1, $2) and locked_until is not null", a.Id, b.Id));
        // The next pass takes both now.
        Assert.Equal(2, await sync.RunDueAsync(2, CancellationToken.None));
        Assert.Equal(2L, await TestApp.ScalarAsync<long>(
            "select count(*) from calendar_syncs where clinic_id in ($1, $2) and state = 'ok' and locked_until is null", a.Id, b.Id));
    }

    [Fact]
    public async Task A_calendar_Google_cannot_answer_for_is_unknown_and_keeps_its_last_known_busy_slots()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 3, patients: 1);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal);
        using var admin = app.As(c.Id);
        await LinkAsync(_fake, admin, c, cal);
        var slot1 = await SlotTimesAsync(c.SlotIds[1]);
        var block = _fake.AddEvent(cal, slot1.Start, slot1.End);
        Assert.Equal(1, (await SyncAsync(admin, c)).GetProperty("busySlots").GetInt64());

        // freeBusy answers errors[] for the calendar: unknown is not free.
        _fake.DeleteEvent(cal, block);
        _fake.FreeBusyErrors.Add(cal);
        try
        {
            var status = await SyncAsync(admin, c);
            Assert.Equal("unknown", status.GetProperty("state").GetString());
            Assert.Contains("notFound", status.GetProperty("lastError").GetString());
            Assert.Equal(1, status.GetProperty("busySlots").GetInt64());
            Assert.False((await AvailabilityAsync(admin, c))[c.SlotIds[1]]);
        }
        finally
        {
            _fake.FreeBusyErrors.Remove(cal);
        }
        var recovered = await SyncAsync(admin, c);
        Assert.Equal("ok", recovered.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, recovered.GetProperty("lastError").ValueKind);
        Assert.Equal(0, recovered.GetProperty("busySlots").GetInt64());
    }

    [Fact]
    public async Task Sync_is_incremental_and_an_expired_sync_token_leads_to_a_full_resync_with_the_right_state()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 4, patients: 1);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal);
        using var admin = app.As(c.Id);
        await LinkAsync(_fake, admin, c, cal);
        var s0 = await SlotTimesAsync(c.SlotIds[0]);
        var s3 = await SlotTimesAsync(c.SlotIds[3]);
        var a = _fake.AddEvent(cal, s0.Start, s0.End);
        await SyncAsync(admin, c);
        var path = $"/calendar/v3/calendars/{cal}/events";

        // Incremental: the stored token is sent and only the change comes back.
        var incrementalBefore = _fake.Calls.Count(x => x.Path == path && x.WithSyncToken && x.Status == 200);
        var b = _fake.AddEvent(cal, s3.Start, s3.End);
        await SyncAsync(admin, c);
        Assert.True(_fake.Calls.Count(x => x.Path == path && x.WithSyncToken && x.Status == 200) > incrementalBefore);
        Assert.Equal(2L, await TestApp.ScalarAsync<long>("select count(*) from calendar_events where clinic_id = $1", c.Id));

        // Google expires the token while A is deleted: the 410 leads to a full list and a mirror without A.
        _fake.DeleteEvent(cal, a);
        _fake.ExpireSyncTokens(cal);
        var gone = _fake.Gone410;
        var status = await SyncAsync(admin, c);
        Assert.Equal(gone + 1, _fake.Gone410);
        Assert.Equal("ok", status.GetProperty("state").GetString());
        Assert.Equal(b, await TestApp.ScalarAsync<string>("select string_agg(event_id, ',') from calendar_events where clinic_id = $1", c.Id));
        var available = await AvailabilityAsync(admin, c);
        Assert.True(available[c.SlotIds[0]]);
        Assert.False(available[c.SlotIds[3]]);
        Assert.StartsWith("sync-", await TestApp.ScalarAsync<string>("select sync_token from calendar_syncs where clinic_id = $1", c.Id));
    }

    [Fact]
    public async Task A_push_notification_triggers_a_sync_and_a_forged_one_is_rejected()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 2, patients: 1);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal);
        using var admin = app.As(c.Id);
        await LinkAsync(_fake, admin, c, cal);
        var status = await SyncAsync(admin, c); // opens the channel (FRONTDESK_PUBLIC_BASE_URL is https in tests)
        Assert.True(status.GetProperty("pushChannel").GetBoolean());
        var channel = _fake.Channels.Single(x => x.CalendarId == cal);
        Assert.Equal("https://frontdesk.test/google/calendar/notifications", channel.Address);

        using var anonymous = app.CreateClient();
        HttpRequestMessage Notification(string token, string state = "exists")
        {
            var m = new HttpRequestMessage(HttpMethod.Post, "/google/calendar/notifications");
            m.Headers.Add("X-Goog-Channel-ID", channel.Id);
            m.Headers.Add("X-Goog-Channel-Token", token);
            m.Headers.Add("X-Goog-Resource-ID", channel.ResourceId);
            m.Headers.Add("X-Goog-Resource-State", state);
            m.Headers.Add("X-Goog-Message-Number", "2");
            return m;
        }

        using (var forged = await anonymous.SendAsync(Notification(channel.Token[..^2] + "AA")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
            Assert.Equal("https://frontdesk.dev/problems/unauthorized",
                JsonDocument.Parse(await forged.Content.ReadAsStringAsync()).RootElement.GetProperty("type").GetString());
        }
        using (var missing = await anonymous.PostAsync("/google/calendar/notifications", null))
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);

        // A real change: Google says "exists", the worker syncs without being asked.
        var slot1 = await SlotTimesAsync(c.SlotIds[1]);
        _fake.AddEvent(cal, slot1.Start, slot1.End);
        using (var ok = await anonymous.SendAsync(Notification(channel.Token)))
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        await CalendarPushTests.WaitUntilAsync(() => !AvailabilityAsync(admin, c).GetAwaiter().GetResult()[c.SlotIds[1]]);
    }

    [Fact]
    public async Task Linking_rejects_bad_input_foreign_clinics_and_non_admins_and_stores_nothing()
    {
        var c = await TestClinic.CreateAsync(slots: 1, patients: 0);
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = TestApp.As(c.Id);
        var url = $"/api/clinics/{c.Id}/practitioners/{c.PractitionerId}/calendar";

        foreach (var bad in new[] { "", "has space", new string('x', 1025) })
        {
            using var r = await admin.PutAsJsonAsync(url, new { calendarId = bad });
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Equal("https://frontdesk.dev/problems/validation", (await Problem(r)).GetProperty("type").GetString());
        }
        using (var r = await TestApp.As(c.Id, "receptionist").PutAsJsonAsync(url, new { calendarId = "a@b.c" }))
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        using (var r = await TestApp.As(other.Id).PutAsJsonAsync(url, new { calendarId = "a@b.c" }))
            Assert.Equal("https://frontdesk.dev/problems/cross-tenant", (await Problem(r)).GetProperty("type").GetString());
        using (var r = await admin.PutAsJsonAsync($"/api/clinics/{c.Id}/practitioners/{Guid.NewGuid()}/calendar", new { calendarId = "a@b.c" }))
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        Assert.Null(await TestApp.ScalarAsync<string>("select calendar_id from practitioners where id = $1", c.PractitionerId));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from calendar_syncs where clinic_id = $1", c.Id));

        // Sync off in the shared app (no credentials): linking needs Google to check the calendar's proof
        // (issue 14), so it is refused and stores nothing; syncing says why not.
        using (var r = await admin.PutAsJsonAsync(url, new { calendarId = "a@b.c" }))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
            Assert.Equal("https://frontdesk.dev/problems/unavailable", (await Problem(r)).GetProperty("type").GetString());
        }
        using (var r = await admin.PostAsync(url + "/sync", null))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
            Assert.Equal("https://frontdesk.dev/problems/unavailable", (await Problem(r)).GetProperty("type").GetString());
        }
        var status = await TestClinic.Json(await admin.GetAsync(url));
        Assert.False(status.GetProperty("syncEnabled").GetBoolean());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, status.GetProperty("calendarId").ValueKind);
        var health = await TestClinic.Json(await TestApp.Client(null).GetAsync("/healthz"));
        Assert.StartsWith("off", health.GetProperty("details").GetProperty("calendar").GetString());
    }

    static async Task<JsonElement> Problem(HttpResponseMessage r) => JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
}
