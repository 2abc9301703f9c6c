using System.Net;
using System.Text.Json;
using Frontdesk.Bench;
using Frontdesk.Manage;
using Frontdesk.Tests.Calendar;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Waitlist;
using Microsoft.Extensions.DependencyInjection;
using static Frontdesk.Tests.Calendar.CalendarTestHost;
using static Frontdesk.Tests.Manage.PatientScenario;

namespace Frontdesk.Tests.Manage;

/// <summary>The manage page and the waitlist with a linked Google calendar (the loopback fake).</summary>
[Collection(CalendarTestGroup.Name)]
public class ManageCalendarTests(GoogleFakeFixture google)
{
    readonly GoogleFake _fake = google.Fake;

    static string EventId(Guid bookingId, int generation) => bookingId.ToString("N") + generation;

    [Fact]
    public async Task A_move_on_the_manage_page_moves_the_Google_event_and_a_cancel_deletes_it()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 4, patients: 0);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal);
        using var admin = app.As(c.Id);
        await LinkAsync(_fake, admin, c, cal);
        var (patient, _) = await PatientAsync(c);
        var bookingId = await BookAsync(c, patient, c.SlotIds[0]);
        await WaitForStatusAsync(admin, c.Id, bookingId, "synced");
        var tokens = app.Services.GetRequiredService<ManageLinkToken>();
        var path = tokens.PathFor(c.Id, bookingId, (await SlotTimesAsync(c.SlotIds[0])).Start);

        using var browser = Browser(app);
        var doc = await HtmlAsync(await browser.GetAsync(path));
        var moved = await browser.PostAsync(path + "/move", Form(("csrf", Csrf(doc)), ("slot", c.SlotIds[2].ToString())));
        Assert.Equal(HttpStatusCode.Redirect, moved.StatusCode);
        var slot2 = await SlotTimesAsync(c.SlotIds[2]);
        await CalendarPushTests.WaitUntilAsync(() => _fake.Event(cal, EventId(bookingId, 0))!.Start == slot2.Start);
        await WaitForStatusAsync(admin, c.Id, bookingId, "synced");
        Assert.Equal((slot2.Start, slot2.End), (_fake.Event(cal, EventId(bookingId, 0))!.Start, _fake.Event(cal, EventId(bookingId, 0))!.End));
        Assert.Single(_fake.LiveEvents(cal));

        var newPath = moved.Headers.Location!.OriginalString.Split('?')[0];
        var ask = await HtmlAsync(await browser.GetAsync(newPath + "/cancel"));
        Assert.Equal(HttpStatusCode.OK, (await browser.PostAsync(newPath + "/cancel", Form(("csrf", Csrf(ask))))).StatusCode);
        var view = await WaitForStatusAsync(admin, c.Id, bookingId, "deleted");
        Assert.Equal(JsonValueKind.Null, view.GetProperty("eventId").ValueKind);
        Assert.Empty(_fake.LiveEvents(cal));
    }

    [Fact]
    public async Task A_block_removed_in_Google_frees_its_slot_at_the_next_sync_and_the_waitlist_is_offered_it()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 2, patients: 0);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal);
        using var admin = app.As(c.Id);
        await LinkAsync(_fake, admin, c, cal);
        await WaitForFirstSyncAsync(admin, c);
        var slot = await SlotTimesAsync(c.SlotIds[1]);
        var block = _fake.AddEvent(cal, slot.Start, slot.End);
        Assert.Equal(1, (await SyncAsync(admin, c)).GetProperty("busySlots").GetInt64());
        await BookAsync(c, (await PatientAsync(c, "Filler")).Id, c.SlotIds[0]);
        var (waiting, _) = await PatientAsync(c, "Waiting Patient");
        var entry = await WaitlistKit.JoinAsync(admin, c.Id, new { patientId = waiting });

        _fake.DeleteEvent(cal, block);
        Assert.Equal(0, (await SyncAsync(admin, c)).GetProperty("busySlots").GetInt64());
        var offer = await WaitlistKit.OfferedAsync(c.Id, entry);
        Assert.Equal(c.SlotIds[1], offer.SlotId);
        Assert.Equal("waitlist:" + offer.Id, await TestApp.ScalarAsync<string>("select hold_holder from calendar_slots where id = $1", c.SlotIds[1]));
    }
}
