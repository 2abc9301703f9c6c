using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Booking;
using Frontdesk.Platform;
using Frontdesk.Stats;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Manage;
using Microsoft.Extensions.DependencyInjection;
using static Frontdesk.Tests.Reminders.ReminderHelpers;

namespace Frontdesk.Tests.Reminders;

/// <summary>GET /api/clinics/{id}/stats against a scripted day whose counts are known.</summary>
public class StatsTests
{
    static readonly TimeZoneInfo London = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");

    /// <summary>A London wall-clock time on <paramref name="day"/>.</summary>
    static DateTimeOffset At(DateOnly day, int hour, int minute = 0)
    {
        var wall = day.ToDateTime(new TimeOnly(hour, minute));
        return new DateTimeOffset(wall, London.GetUtcOffset(wall)).ToUniversalTime();
    }

    static async Task<Guid> ClaimAsync(Guid clinicId, Guid slotId, Guid patientId, string source, DateTimeOffset createdAt)
    {
        await using var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(clinicId, "stats-test", "receptionist"), default);
        var outcome = await SlotEngine.ClaimAsync(s, slotId, patientId, clinicId, null, source, null, default);
        await s.CommitAsync(default);
        Assert.Equal(200, outcome.Status);
        await TestApp.ExecAsync("update bookings set created_at = $2 where id = $1", outcome.BookingId!.Value, createdAt);
        return outcome.BookingId.Value;
    }

    static Task<int> CallAsync(Guid clinicId, DateTimeOffset startedAt) =>
        TestApp.ExecAsync("insert into calls (clinic_id, call_id, started_at, created_at) values ($1, $2, $3, $3)",
            clinicId, "call_" + Guid.NewGuid().ToString("N"), startedAt);

    /// <summary>A follow-up (lead, follow-up, its SMS) created at <paramref name="at"/>; sent when Twilio gave it a sid.</summary>
    static async Task FollowUpAsync(Guid clinicId, DateTimeOffset at, bool sent, Guid? bookedAs = null)
    {
        var lead = Guid.NewGuid();
        var followUp = Guid.NewGuid();
        await TestApp.ExecAsync("""
            insert into leads (id, clinic_id, call_id, procedure, source, created_at, converted_booking_id, converted_at)
            values ($1, $2, $3, 'Rhinoplasty', 'vapi', $4, $5, case when $5::uuid is null then null else $4 end)
            """, lead, clinicId, "call_" + Guid.NewGuid().ToString("N"), at, (object?)bookedAs ?? DBNull.Value);
        await TestApp.ExecAsync("""
            insert into lead_followups (id, clinic_id, lead_id, procedure, template, assigned_agent, status, created_at)
            values ($1, $2, $3, 'Rhinoplasty', 'rhinoplasty-guide', 'sarah_outbound', $4, $5)
            """, followUp, clinicId, lead, sent ? "sent" : "failed", at);
        await MessageAsync(clinicId, "followup", at, sent, followUp);
    }

    static Task<int> MessageAsync(Guid clinicId, string purpose, DateTimeOffset at, bool sent, Guid? followUp = null) =>
        TestApp.ExecAsync("""
            insert into sms_messages (clinic_id, followup_id, segments, encoding, purpose, status, twilio_sid, created_at)
            values ($1, $2, 1, 'GSM-7', $3, $4, $5, $6)
            """, clinicId, (object?)followUp ?? DBNull.Value, purpose, sent ? "delivered" : "failed",
            sent ? (object)("SM" + Guid.NewGuid().ToString("N")) : DBNull.Value, at);

    [Fact]
    public async Task Stats_count_a_scripted_day_in_the_clinics_time_and_nothing_of_another_clinic()
    {
        var day = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, London).DateTime).AddDays(-10);
        var (clinic, patient, _) = await ClinicAsync(firstSlot: At(day, 9), slots: 10);
        var s = clinic.SlotIds;

        // Bookings made that day: 2 by the voice agent (one at 23:30 London time), 1 from a follow-up's link,
        // 1 from the waitlist, 2 by staff (one later cancelled). The manage page makes no bookings: it moves and
        // cancels them (counted by the test below, through the page itself).
        var voice1 = await ClaimAsync(clinic.Id, s[0], patient, "phone", At(day, 10));
        await ClaimAsync(clinic.Id, s[1], patient, "phone", At(day, 23, 30));
        var smsLink = await ClaimAsync(clinic.Id, s[2], patient, "sms_link", At(day, 11));
        await ClaimAsync(clinic.Id, s[4], patient, "waitlist", At(day, 13));
        var staff1 = await ClaimAsync(clinic.Id, s[5], patient, "api", At(day, 14));
        var staff2 = await ClaimAsync(clinic.Id, s[6], patient, "api", At(day, 15));
        // Not that day: the evening before and just after midnight.
        await ClaimAsync(clinic.Id, s[7], patient, "phone", At(day.AddDays(-1), 23, 59));
        await ClaimAsync(clinic.Id, s[8], patient, "sms_link", At(day.AddDays(1), 0, 30));
        using var admin = TestApp.As(clinic.Id);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/bookings/{clinic.Id}/{staff2}")).StatusCode);

        // 3 calls that day, 1 the day after.
        foreach (var h in new[] { 8, 12, 17 }) await CallAsync(clinic.Id, At(day, h));
        await CallAsync(clinic.Id, At(day.AddDays(1), 9));
        // Follow-ups: 3 sent (one of them booked), 1 failed.
        await FollowUpAsync(clinic.Id, At(day, 9), sent: true, bookedAs: smsLink);
        await FollowUpAsync(clinic.Id, At(day, 10), sent: true);
        await FollowUpAsync(clinic.Id, At(day, 11), sent: true);
        await FollowUpAsync(clinic.Id, At(day, 12), sent: false);
        // Reminders: 2 accepted by Twilio that day, 1 failed; one confirmed by reply; 1 sent the next day.
        await MessageAsync(clinic.Id, "reminder", At(day, 9), sent: true);
        await MessageAsync(clinic.Id, "reminder", At(day, 10), sent: true);
        await MessageAsync(clinic.Id, "reminder", At(day, 11), sent: false);
        await MessageAsync(clinic.Id, "reminder", At(day.AddDays(1), 10), sent: true);
        await TestApp.ExecAsync("update bookings set confirmed_at = $2 where id = $1", voice1, At(day, 9, 30));
        // Two no-shows marked by staff (appointments that day).
        foreach (var b in new[] { voice1, staff1 })
            Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/bookings/{clinic.Id}/{b}/attendance", new { attended = false })).StatusCode);

        // Another clinic's busy day counts nowhere here.
        var (other, otherPatient, _) = await ClinicAsync(firstSlot: At(day, 9), slots: 1);
        await ClaimAsync(other.Id, other.SlotIds[0], otherPatient, "phone", At(day, 10));
        await CallAsync(other.Id, At(day, 10));

        var expected = """
            {"calls":3,"bookings":{"voice":2,"smsLink":1,"manageLink":0,"waitlist":1,"staff":2},"followUps":{"sent":3,"booked":1},"reminders":{"sent":2,"confirmed":1},"noShows":2,"waitlistRefills":1}
            """;
        using var receptionist = TestApp.As(clinic.Id, "receptionist");
        var byDate = await TestClinic.Json(await receptionist.GetAsync($"/api/clinics/{clinic.Id}/stats?from={day:yyyy-MM-dd}&to={day:yyyy-MM-dd}"));
        Assert.Equal(expected, Counts(byDate));
        Assert.Equal(At(day, 0), byDate.GetProperty("from").GetDateTimeOffset());
        Assert.Equal(At(day.AddDays(1), 0), byDate.GetProperty("to").GetDateTimeOffset());
        Assert.Equal("Europe/London", byDate.GetProperty("timezone").GetString());

        // The same day as instants with offsets (to exclusive).
        var from = Uri.EscapeDataString(At(day, 0).ToOffset(London.GetUtcOffset(At(day, 0))).ToString("yyyy-MM-ddTHH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture));
        var to = Uri.EscapeDataString(At(day.AddDays(1), 0).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(expected, Counts(await TestClinic.Json(await receptionist.GetAsync($"/api/clinics/{clinic.Id}/stats?from={from}&to={to}"))));

        // The two days together: the next day's booking, call and reminder join in.
        var twoDays = await TestClinic.Json(await receptionist.GetAsync($"/api/clinics/{clinic.Id}/stats?from={day:yyyy-MM-dd}&to={day.AddDays(1):yyyy-MM-dd}"));
        Assert.Equal(4, twoDays.GetProperty("calls").GetInt32());
        Assert.Equal(2, twoDays.GetProperty("bookings").GetProperty("smsLink").GetInt32());
        Assert.Equal(3, twoDays.GetProperty("reminders").GetProperty("sent").GetInt32());
    }

    [Fact]
    public async Task Manage_link_counts_the_bookings_patients_moved_or_cancelled_through_their_manage_page_in_the_range()
    {
        var (clinic, patient, _) = await ClinicAsync(slots: 6);
        var s = clinic.SlotIds;
        var moved = await BookAsync(clinic.Id, s[0], patient);
        var cancelled = await BookAsync(clinic.Id, s[1], patient);
        var byStaff = await BookAsync(clinic.Id, s[2], patient);
        var tokens = TestApp.Factory.Services.GetRequiredService<Frontdesk.Manage.ManageLinkToken>();
        string PathOf(Guid booking, DateTimeOffset startsAt) => tokens.PathFor(clinic.Id, booking, startsAt);
        using var browser = PatientScenario.Browser(TestApp.Factory);

        // Moved twice by the patient (one booking), then cancelled by another's page; staff move the third.
        var path = PathOf(moved, (await Calendar.CalendarTestHost.SlotTimesAsync(s[0])).Start);
        foreach (var target in new[] { s[3], s[4] })
        {
            var page = await PatientScenario.HtmlAsync(await browser.GetAsync(path));
            var r = await browser.PostAsync(path + "/move", PatientScenario.Form(("csrf", PatientScenario.Csrf(page)), ("slot", target.ToString())));
            Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
            path = r.Headers.Location!.OriginalString.Split('?')[0];
        }
        var cancelPath = PathOf(cancelled, (await Calendar.CalendarTestHost.SlotTimesAsync(s[1])).Start) + "/cancel";
        var ask = await PatientScenario.HtmlAsync(await browser.GetAsync(cancelPath));
        Assert.Equal(HttpStatusCode.OK, (await browser.PostAsync(cancelPath, PatientScenario.Form(("csrf", PatientScenario.Csrf(ask))))).StatusCode);
        using var admin = TestApp.As(clinic.Id);
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/bookings/{clinic.Id}/{byStaff}", new { slotId = s[5] })).StatusCode);
        Assert.Equal("confirmed|cancelled", await TestApp.ScalarAsync<string>(
            "select (select status from bookings where id = $1) || '|' || (select status from bookings where id = $2)", moved, cancelled));

        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, London).DateTime);
        var stats = await TestClinic.Json(await admin.GetAsync($"/api/clinics/{clinic.Id}/stats?from={today:yyyy-MM-dd}&to={today:yyyy-MM-dd}"));
        Assert.Equal("""{"voice":0,"smsLink":0,"manageLink":2,"waitlist":0,"staff":3}""", stats.GetProperty("bookings").GetRawText());
        var before = await TestClinic.Json(await admin.GetAsync(
            $"/api/clinics/{clinic.Id}/stats?from={today.AddDays(-3):yyyy-MM-dd}&to={today.AddDays(-1):yyyy-MM-dd}"));
        Assert.Equal(0, before.GetProperty("bookings").GetProperty("manageLink").GetInt32());
    }

    static string Counts(JsonElement stats)
    {
        var o = System.Text.Json.Nodes.JsonNode.Parse(stats.GetRawText())!.AsObject();
        foreach (var echo in new[] { "from", "to", "timezone" }) o.Remove(echo);
        return o.ToJsonString();
    }

    [Theory]
    [InlineData("from=yesterday")]
    [InlineData("from=2026-13-01")]
    [InlineData("to=2026-12-01T09:00:00")]
    [InlineData("from=2026-12-02&to=2026-12-01")]
    [InlineData("from=2026-12-01T10:00:00Z&to=2026-12-01T10:00:00Z")]
    [InlineData("from=2024-01-01&to=2026-01-01")]
    [InlineData("to=9999-12-31")]                         // the day after runs off the calendar: a 400, never a 500
    [InlineData("from=9999-12-15")]                       // from + 30 days likewise
    [InlineData("from=0001-01-01")]
    [InlineData("from=0001-01-01T00:00:00%2B14:00")]
    public async Task A_bad_range_is_a_400_validation_problem(string query)
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = TestApp.As(clinic.Id);
        var r = await admin.GetAsync($"/api/clinics/{clinic.Id}/stats?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal(Problems.Validation, (await ReminderSettingsTests.ProblemAsync(r)).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Without_a_range_the_stats_cover_the_30_days_ending_today_and_a_token_without_a_staff_role_is_refused()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var doctor = TestApp.As(clinic.Id, "doctor");
        var body = await TestClinic.Json(await doctor.GetAsync($"/api/clinics/{clinic.Id}/stats"));
        Assert.InRange((body.GetProperty("to").GetDateTimeOffset() - body.GetProperty("from").GetDateTimeOffset()).TotalHours, 30 * 24 - 1, 30 * 24 + 1);
        Assert.True(body.GetProperty("to").GetDateTimeOffset() > DateTimeOffset.UtcNow);
        Assert.Equal(0, body.GetProperty("calls").GetInt32());

        using var nobody = TestApp.As(clinic.Id, "");
        Assert.Equal(HttpStatusCode.Forbidden, (await nobody.GetAsync($"/api/clinics/{clinic.Id}/stats")).StatusCode);
    }

    [Fact]
    public void Dates_are_whole_days_in_the_clinics_time_across_a_clock_change()
    {
        // 29 March 2026: London moves from GMT to BST; that day has 23 hours.
        var (range, problem) = StatsRange.Parse("2026-03-29", "2026-03-29", London, DateTimeOffset.UtcNow);
        Assert.Null(problem);
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 0, 0, 0, TimeSpan.Zero), range!.From);
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 23, 0, 0, TimeSpan.Zero), range.To);
    }
}

public class BetweenCallsOpenApiTests
{
    [Theory]
    [InlineData("/api/clinics/{clinicId}/reminders", "get", "ReminderSettings")]
    [InlineData("/api/clinics/{clinicId}/reminders", "put", "ReminderSettings")]
    [InlineData("/api/clinics/{clinicId}/inbox", "get", "InboxItem")]
    [InlineData("/api/clinics/{clinicId}/inbox/{id}", "patch", "InboxItem")]
    [InlineData("/api/bookings/{clinicId}/{bookingId}/attendance", "put", "BookingView")]
    [InlineData("/api/clinics/{clinicId}/stats", "get", "ClinicStatsView")]
    public async Task The_OpenAPI_document_declares_each_between_calls_endpoint_with_its_typed_result(string path, string method, string schema)
    {
        using var anon = TestApp.Client(null);
        var openapi = await TestClinic.Json(await anon.GetAsync("/openapi/v1.json"));
        var operation = openapi.GetProperty("paths").GetProperty(path).GetProperty(method);
        var ok = operation.GetProperty("responses").GetProperty("200").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        Assert.Contains(schema, ok.GetRawText());
        var problem = operation.GetProperty("responses").GetProperty(method == "get" && path.EndsWith("reminders", StringComparison.Ordinal) ? "404" : "403");
        Assert.True(problem.GetProperty("content").TryGetProperty("application/problem+json", out _), "the problem results are declared too");
    }
}
