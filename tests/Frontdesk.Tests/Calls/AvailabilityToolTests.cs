using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Tests.Infrastructure;
using static Frontdesk.Tests.Calls.VapiPayloads;

namespace Frontdesk.Tests.Calls;

/// <summary>check_availability as a caller phrases the day and the time of day: the words the tool's
/// schema promises (today, tomorrow, a weekday, YYYY-MM-DD), a full timestamp, and what it cannot
/// read, which becomes a question to the caller rather than an unfiltered list.</summary>
public class AvailabilityToolTests
{
    static readonly TimeZoneInfo London = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");

    sealed record Diary(Guid ClinicId, string Secret, DateOnly Tomorrow, DateOnly Later,
        Guid TomorrowMorning, Guid TomorrowAfternoon, Guid TomorrowEvening, Guid LaterMorning);

    static DateTimeOffset At(DateOnly day, int hour, int minute)
    {
        var wall = day.ToDateTime(new TimeOnly(hour, minute));
        return new DateTimeOffset(wall, London.GetUtcOffset(wall));
    }

    /// <summary>A London clinic with four free slots: tomorrow at 10:00, 14:00 and 18:30, and at 09:30
    /// three days from today (never today's weekday, so a weekday name means that day).</summary>
    static async Task<Diary> DiaryAsync()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var secret = "vapi-" + Guid.NewGuid().ToString("N");
        await TestApp.ExecAsync("update clinics set vapi_secret = $1 where id = $2", secret, clinic.Id);
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, London).DateTime);
        var tomorrow = today.AddDays(1);
        var later = today.AddDays(3);
        using var svc = TestApp.Service();
        async Task<Guid> SlotAsync(DateTimeOffset start)
        {
            var r = await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinic.Id}/slots",
                new { practitionerId = clinic.PractitionerId, startsAt = start, endsAt = start.AddMinutes(30), durationMinutes = 30 }));
            return r.GetProperty("slots")[0].GetProperty("id").GetGuid();
        }
        return new Diary(clinic.Id, secret, tomorrow, later,
            await SlotAsync(At(tomorrow, 10, 0)), await SlotAsync(At(tomorrow, 14, 0)), await SlotAsync(At(tomorrow, 18, 30)),
            await SlotAsync(At(later, 9, 30)));
    }

    /// <summary>One check_availability tool call; a new phone call and tool call unless given.</summary>
    static async Task<(string Text, bool Error)> CheckAsync(Diary d, object arguments, string? callId = null, string? toolCallId = null)
    {
        using var client = TestApp.Factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/vapi/webhook")
        {
            Content = new StringContent(JsonSerializer.Serialize(ToolCall(callId ?? NewCall(), TwilioFixture.NewPhone(),
                toolCallId ?? "call_" + Guid.NewGuid().ToString("N"), "check_availability", arguments)), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Vapi-Secret", d.Secret);
        using var response = await client.SendAsync(request);
        return Result(await TestClinic.Json(response));
    }

    /// <summary>The slot ids an answer offers, in the order spoken.</summary>
    static Guid[] Offered(Diary d, string text) =>
        new[] { d.TomorrowMorning, d.TomorrowAfternoon, d.TomorrowEvening, d.LaterMorning }
            .Where(id => text.Contains(id.ToString(), StringComparison.Ordinal))
            .OrderBy(id => text.IndexOf(id.ToString(), StringComparison.Ordinal))
            .ToArray();

    [Fact]
    public async Task A_day_said_as_tomorrow_a_weekday_a_date_or_a_timestamp_offers_only_that_days_times()
    {
        var d = await DiaryAsync();
        var all = await CheckAsync(d, new { });
        Assert.Equal([d.TomorrowMorning, d.TomorrowAfternoon, d.TomorrowEvening, d.LaterMorning], Offered(d, all.Text));

        var tomorrow = await CheckAsync(d, new { date = "Tomorrow" });
        Assert.False(tomorrow.Error, tomorrow.Text);
        Assert.Equal([d.TomorrowMorning, d.TomorrowAfternoon, d.TomorrowEvening], Offered(d, tomorrow.Text));

        // A weekday means its next occurrence; the later day is three days out, so never today.
        var weekday = await CheckAsync(d, new { date = d.Later.DayOfWeek.ToString().ToLowerInvariant() });
        Assert.Equal([d.LaterMorning], Offered(d, weekday.Text));
        Assert.Equal([d.LaterMorning], Offered(d, (await CheckAsync(d, new { date = d.Later.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture) })).Text));
        // A full timestamp means the clinic's calendar day it falls on.
        var noon = At(d.Later, 12, 0).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal([d.LaterMorning], Offered(d, (await CheckAsync(d, new { date = noon })).Text));

        // Nothing free today (the diary starts tomorrow): said so, with a question, not an empty list.
        var today = await CheckAsync(d, new { date = "today" });
        Assert.False(today.Error, today.Text);
        Assert.Equal("There are no free times matching that. Would another day or time of day suit?", today.Text);
    }

    [Theory]
    [InlineData("morning", new[] { 0 })]
    [InlineData("Afternoon", new[] { 1 })]
    [InlineData("EVENING", new[] { 2 })]
    public async Task A_part_of_day_narrows_the_times_by_the_clinics_clock(string partOfDay, int[] expected)
    {
        var d = await DiaryAsync();
        Guid[] tomorrow = [d.TomorrowMorning, d.TomorrowAfternoon, d.TomorrowEvening];
        var answer = await CheckAsync(d, new { date = "tomorrow", partOfDay });
        Assert.False(answer.Error, answer.Text);
        Assert.Equal(expected.Select(i => tomorrow[i]), Offered(d, answer.Text));
    }

    [Theory]
    [InlineData("date", "the day after the full moon", "I didn't catch the date. Could you say the day again?")]
    [InlineData("date", "12", "I didn't catch the date. Could you say the day again?")]        // a number is not a weekday
    [InlineData("partOfDay", "night", "Part of day should be morning, afternoon or evening.")]
    public async Task What_the_tool_cannot_read_is_a_spoken_question_not_every_free_time(string argument, string value, string spoken)
    {
        var d = await DiaryAsync();
        var answer = await CheckAsync(d, new Dictionary<string, string> { [argument] = value });
        Assert.True(answer.Error, answer.Text);
        Assert.Equal(spoken, answer.Text);
    }

    [Fact]
    public async Task A_read_only_tool_call_writes_nothing_and_its_retry_is_answered_from_the_diary_as_it_is_then()
    {
        // check_availability only reads: no claim row, no stored answer, no savepoint (issue 16: the busiest tool
        // call at a third of its former server time). A retry of the same toolCallId is simply answered again.
        var d = await DiaryAsync();
        var callId = NewCall();
        var toolCallId = "call_" + Guid.NewGuid().ToString("N");
        Task<(string Text, bool Error)> SendAsync(object arguments) => CheckAsync(d, arguments, callId, toolCallId);
        var first = await SendAsync(new { date = "tomorrow" });
        Assert.False(first.Error, first.Text);
        Assert.Equal([d.TomorrowMorning, d.TomorrowAfternoon, d.TomorrowEvening], Offered(d, first.Text));

        // Meanwhile the morning is booked: the retry says what is free now.
        using (var api = TestApp.As(d.ClinicId))
        {
            var patient = await TestClinic.Json(await api.PostAsJsonAsync($"/api/clinics/{d.ClinicId}/patients", new { name = "Ada Test", phone = TwilioFixture.NewPhone() }));
            Assert.True((await api.PostAsJsonAsync("/functions/v1/claim_slot_atomic",
                new { slotId = d.TomorrowMorning, patientId = patient.GetProperty("id").GetGuid(), clinicId = d.ClinicId })).IsSuccessStatusCode);
        }
        var retry = await SendAsync(new { date = "tomorrow" });
        Assert.Equal([d.TomorrowAfternoon, d.TomorrowEvening], Offered(d, retry.Text));

        // A refusal is answered the same way each time, and nothing of the call was stored.
        var refused = await SendAsync(new { partOfDay = "night" });
        Assert.Equal((true, "Part of day should be morning, afternoon or evening."), (refused.Error, refused.Text));
        Assert.Equal(refused, await SendAsync(new { partOfDay = "night" }));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from vapi_events where clinic_id = $1 and call_id = $2", d.ClinicId, callId));
    }
}
