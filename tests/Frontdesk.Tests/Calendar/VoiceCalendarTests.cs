using System.Text;
using System.Text.Json;
using Frontdesk.Bench;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using static Frontdesk.Tests.Calendar.CalendarTestHost;
using static Frontdesk.Tests.Calls.VapiPayloads;

namespace Frontdesk.Tests.Calendar;

/// <summary>Issue 17: a booking moved or cancelled by voice moves or deletes its Google Calendar
/// event (the calendar job is re-armed by the booking's own transaction), against the loopback Google.</summary>
[Collection(CalendarTestGroup.Name)]
public class VoiceCalendarTests(GoogleFakeFixture google)
{
    readonly GoogleFake _fake = google.Fake;

    static async Task<(string Text, bool Error)> ToolAsync(WebApplicationFactory<Program> app, string secret, string phone, string name, object args)
    {
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/vapi/webhook")
        {
            Content = new StringContent(JsonSerializer.Serialize(ToolCall(NewCall(), phone, "call_" + Guid.NewGuid().ToString("N"), name, args)),
                Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Vapi-Secret", secret);
        using var r = await client.SendAsync(request);
        return Result(JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement);
    }

    [Fact]
    public async Task Rescheduling_by_voice_moves_the_Google_event_and_cancelling_by_voice_deletes_it()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 4, patients: 0);
        var secret = "vapi-" + Guid.NewGuid().ToString("N");
        await TestApp.ExecAsync("update clinics set vapi_secret = $1 where id = $2", secret, c.Id);
        var cal = NewCalendarId();
        using var admin = app.As(c.Id);
        await LinkAsync(_fake, admin, c, cal);
        var phone = Frontdesk.Tests.Calls.TwilioFixture.NewPhone();

        var booked = await ToolAsync(app, secret, phone, "book_appointment", new { slotId = c.SlotIds[0], patientName = "Jane Doe" });
        Assert.StartsWith("Booked ", booked.Text);
        var bookingId = Guid.Parse(booked.Text[(booked.Text.LastIndexOf(' ') + 1)..].TrimEnd('.'));
        var view = await WaitForStatusAsync(admin, c.Id, bookingId, "synced");
        var eventId = view.GetProperty("eventId").GetString()!;
        Assert.Equal((await SlotTimesAsync(c.SlotIds[0])).Start, _fake.Event(cal, eventId)!.Start);

        var moved = await ToolAsync(app, secret, phone, "reschedule_appointment", new { slotId = c.SlotIds[3] });
        Assert.StartsWith("Moved the appointment from ", moved.Text);
        var slot3 = await SlotTimesAsync(c.SlotIds[3]);
        await WaitUntilAsync(() => _fake.Event(cal, eventId)!.Start == slot3.Start);
        await WaitForStatusAsync(admin, c.Id, bookingId, "synced");
        Assert.Equal((slot3.Start, slot3.End), (_fake.Event(cal, eventId)!.Start, _fake.Event(cal, eventId)!.End));
        Assert.Single(_fake.LiveEvents(cal));

        var cancelled = await ToolAsync(app, secret, phone, "cancel_appointment", new { });
        Assert.StartsWith("Cancelled the appointment on ", cancelled.Text);
        await WaitForStatusAsync(admin, c.Id, bookingId, "deleted");
        Assert.Equal("cancelled", _fake.Event(cal, eventId)!.Status);
        Assert.Empty(_fake.LiveEvents(cal));
    }

    static async Task WaitUntilAsync(Func<bool> condition, int seconds = 15)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException("condition not met in time");
            await Task.Delay(50);
        }
    }
}
