using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Frontdesk.Bench;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using static Frontdesk.Tests.Calendar.CalendarTestHost;

namespace Frontdesk.Tests.Calendar;

/// <summary>
/// Linking and "sync now" when Google does not simply say yes: a refusal for another reason than
/// sharing (502, Google's words), throttling (503, try again), an API nobody answers (503), and a
/// practitioner with no calendar to sync. Each leaves the practitioner unlinked.
/// </summary>
[Collection(CalendarTestGroup.Name)]
public class CalendarLinkFailureTests(GoogleFakeFixture google)
{
    readonly GoogleFake _fake = google.Fake;

    static string Url(TestClinic c, Guid? practitioner = null) => $"/api/clinics/{c.Id}/practitioners/{practitioner ?? c.PractitionerId}/calendar";

    static async Task<JsonElement> ProblemAsync(HttpResponseMessage r, HttpStatusCode status, string type)
    {
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == status, $"{(int)r.StatusCode} {text}");
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(type, problem.GetProperty("type").GetString());
        return problem;
    }

    static Task<string?> LinkedAsync(TestClinic c) => TestApp.ScalarAsync<string>("select calendar_id from practitioners where id = $1", c.PractitionerId);

    [Fact]
    public async Task A_calendar_Google_refuses_for_another_reason_is_a_502_in_Googles_words_throttling_a_503_and_neither_links_it()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = app.As(c.Id);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal, "Diary · " + await VerificationCodeAsync(admin, c.Id));
        try
        {
            _fake.FailCalendar(cal, 400, "invalid", "Invalid Value");
            var refused = await ProblemAsync(await admin.PutAsJsonAsync(Url(c), new { calendarId = cal }), HttpStatusCode.BadGateway, Problems.Upstream);
            Assert.Equal("Google could not check the calendar", refused.GetProperty("title").GetString());
            Assert.Equal("Google answered 400 invalid: Invalid Value", refused.GetProperty("detail").GetString());

            _fake.FailCalendar(cal, 403, "rateLimitExceeded", "Rate Limit Exceeded");
            var throttled = await ProblemAsync(await admin.PutAsJsonAsync(Url(c), new { calendarId = cal }), HttpStatusCode.ServiceUnavailable, Problems.Unavailable);
            Assert.Equal("Google answered 403 rateLimitExceeded: Rate Limit Exceeded", throttled.GetProperty("detail").GetString());

            // A 403 that is not throttling: Google does not let us see it, i.e. not shared with us.
            _fake.FailCalendar(cal, 403, "forbidden", "Forbidden");
            await ProblemAsync(await admin.PutAsJsonAsync(Url(c), new { calendarId = cal }), HttpStatusCode.UnprocessableEntity, Problems.CalendarNotShared);
            Assert.Null(await LinkedAsync(c));
            Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from calendar_links where clinic_id = $1", c.Id));
        }
        finally
        {
            _fake.HealCalendar(cal);
        }

        // Google answers again: the same request links it.
        using (var r = await admin.PutAsJsonAsync(Url(c), new { calendarId = cal }))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(cal, await LinkedAsync(c));
    }

    [Fact]
    public async Task Linking_while_Googles_API_cannot_be_reached_is_a_503_that_says_so_and_links_nothing()
    {
        int closed;
        using (var l = new TcpListener(IPAddress.Loopback, 0))
        {
            l.Start();
            closed = ((IPEndPoint)l.LocalEndpoint).Port;
        }
        // Tokens still come from the fake (the key file names its token endpoint); the Calendar API is a closed port.
        await using var app = TestApp.Factory.WithWebHostBuilder(b =>
        {
            b.UseSetting("GOOGLE_APPLICATION_CREDENTIALS", _fake.CredentialsPath);
            b.UseSetting("FRONTDESK_GOOGLE_API_BASE_URL", $"http://127.0.0.1:{closed}");
            b.UseSetting("FRONTDESK_GOOGLE_TIMEOUT_SECONDS", "30");
        });
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = app.As(c.Id);
        var cal = NewCalendarId();
        _fake.AddCalendar(cal, await VerificationCodeAsync(admin, c.Id));

        var p = await ProblemAsync(await admin.PutAsJsonAsync(Url(c), new { calendarId = cal }), HttpStatusCode.ServiceUnavailable, Problems.Unavailable);
        Assert.Equal("Google could not be reached", p.GetProperty("title").GetString());
        Assert.Equal("Google could not be reached: ConnectionError; try again.", p.GetProperty("detail").GetString());
        Assert.Null(await LinkedAsync(c));
    }

    [Fact]
    public async Task Sync_now_for_a_practitioner_without_a_calendar_is_a_409_and_for_one_the_clinic_does_not_have_a_404()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = app.As(c.Id);

        var unlinked = await ProblemAsync(await admin.PostAsync(Url(c) + "/sync", null), HttpStatusCode.Conflict, Problems.Conflict);
        Assert.Equal("This practitioner has no linked calendar.", unlinked.GetProperty("detail").GetString());
        await ProblemAsync(await admin.PostAsync(Url(c, Guid.NewGuid()) + "/sync", null), HttpStatusCode.NotFound, Problems.NotFound);
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        await ProblemAsync(await admin.PostAsync(Url(c, other.PractitionerId) + "/sync", null), HttpStatusCode.NotFound, Problems.NotFound);
    }
}
