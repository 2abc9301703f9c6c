using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Bench;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Npgsql;
using static Frontdesk.Tests.Calendar.CalendarTestHost;

namespace Frontdesk.Tests.Calendar;

/// <summary>
/// Calendars across clinics (issue 14): one service account serves every clinic, so a calendar being
/// reachable proves nothing about whose it is. A clinic links only a calendar whose description carries
/// its verification code, and a calendar is linked to one clinic (one practitioner) at a time.
/// </summary>
[Collection(CalendarTestGroup.Name)]
public class CalendarLinkTests(GoogleFakeFixture google)
{
    readonly GoogleFake _fake = google.Fake;

    static string Url(TestClinic c, Guid? practitioner = null) => $"/api/clinics/{c.Id}/practitioners/{practitioner ?? c.PractitionerId}/calendar";

    static async Task<JsonElement> ProblemAsync(HttpResponseMessage r, HttpStatusCode status, string type)
    {
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == status, $"{(int)r.StatusCode} {text}");
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(type, problem.GetProperty("type").GetString());
        return problem;
    }

    [Fact]
    public async Task Another_clinics_calendar_cannot_be_linked_so_its_busy_times_and_events_stay_out_of_reach()
    {
        await using var app = Start(_fake);
        var a = await TestClinic.CreateAsync(slots: 2, patients: 1);
        var b = await TestClinic.CreateAsync(slots: 2, patients: 1);
        using var aAdmin = app.As(a.Id);
        using var bAdmin = app.As(b.Id);
        var bCalendar = NewCalendarId();
        await LinkAsync(_fake, bAdmin, b, bCalendar);
        _fake.AddEvent(bCalendar, DateTimeOffset.UtcNow.AddDays(3), DateTimeOffset.UtcNow.AddDays(3).AddHours(1));
        await WaitForFirstSyncAsync(bAdmin, b);
        var callsBefore = _fake.CountCalls("GET", bCalendar + "/events");

        using var r = await aAdmin.PutAsJsonAsync(Url(a), new { calendarId = bCalendar });
        var problem = await ProblemAsync(r, HttpStatusCode.UnprocessableEntity, Problems.CalendarNotVerified);
        var aCode = await VerificationCodeAsync(aAdmin, a.Id);
        Assert.Equal(aCode, problem.GetProperty("verificationCode").GetString());
        Assert.Contains(aCode, problem.GetProperty("detail").GetString());
        Assert.Contains(_fake.ClientEmail, problem.GetProperty("detail").GetString());

        // Nothing of A's points at B's calendar: no link, no sync, no job, no read of its busy time.
        Assert.Null(await TestApp.ScalarAsync<string>("select calendar_id from practitioners where id = $1", a.PractitionerId));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from calendar_syncs where clinic_id = $1", a.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from calendar_links where clinic_id = $1", a.Id));
        await ClaimAsync(aAdmin, a, 0);
        await Task.Delay(500);
        Assert.Equal(callsBefore, _fake.CountCalls("GET", bCalendar + "/events"));
        Assert.DoesNotContain(_fake.LiveEvents(bCalendar), e => e.BookingId is not null);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from calendar_slots where clinic_id = $1 and busy", a.Id));
    }

    [Fact]
    public async Task A_calendar_carrying_the_clinics_code_is_linked_by_its_canonical_id_and_shows_as_verified()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 1, patients: 1);
        using var admin = app.As(c.Id);
        var verification = await TestClinic.Json(await admin.GetAsync($"/api/clinics/{c.Id}/calendar/verification"));
        var code = verification.GetProperty("code").GetString()!;
        Assert.StartsWith("frontdesk-verify-", code);
        Assert.Equal(_fake.ClientEmail, verification.GetProperty("serviceAccount").GetString());
        Assert.Contains(code, verification.GetProperty("instructions").GetString());
        // The code is the clinic's own: another clinic's differs.
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        Assert.NotEqual(code, await VerificationCodeAsync(app.As(other.Id), other.Id));
        // Only an admin reads it.
        using (var r = await app.As(c.Id, "receptionist").GetAsync($"/api/clinics/{c.Id}/calendar/verification"))
            await ProblemAsync(r, HttpStatusCode.Forbidden, Problems.Forbidden);

        var cal = NewCalendarId();
        var alias = "Surgeon.Alias-" + Guid.NewGuid().ToString("N") + "@example.com";
        _fake.AddCalendar(cal, $"Theatre list. {code.ToUpperInvariant()}");   // case does not matter
        _fake.AddAlias(alias, cal);
        var linked = await TestClinic.Json(await admin.PutAsJsonAsync(Url(c), new { calendarId = alias }));
        Assert.Equal(cal, linked.GetProperty("calendarId").GetString());
        Assert.Equal(cal, await TestApp.ScalarAsync<string>("select calendar_id from practitioners where id = $1", c.PractitionerId));
        var status = await TestClinic.Json(await admin.GetAsync(Url(c)));
        Assert.True(status.GetProperty("verifiedAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Equal(1, _fake.CountCalls("GET", "/calendar/v3/calendars/" + alias, 200));
    }

    [Fact]
    public async Task The_same_calendar_is_never_linked_twice_even_with_both_clinics_codes_in_it_or_under_another_name()
    {
        await using var app = Start(_fake);
        var a = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var b = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var aAdmin = app.As(a.Id);
        using var bAdmin = app.As(b.Id);
        using var svc = TestApp.Service();
        var aSecond = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{a.Id}/practitioners", new { name = "Dr Second" }))).GetProperty("id").GetGuid();
        var cal = NewCalendarId();
        var alias = "alias-" + Guid.NewGuid().ToString("N") + "@example.com";
        _fake.AddCalendar(cal, $"{await VerificationCodeAsync(aAdmin, a.Id)} {await VerificationCodeAsync(bAdmin, b.Id)}");
        _fake.AddAlias(alias, cal);
        _fake.AddAlias(cal.ToUpperInvariant(), cal);
        await TestClinic.Json(await aAdmin.PutAsJsonAsync(Url(a), new { calendarId = cal }));

        foreach (var name in new[] { cal, alias, cal.ToUpperInvariant() })
        {
            var problem = await ProblemAsync(await bAdmin.PutAsJsonAsync(Url(b), new { calendarId = name }), HttpStatusCode.Conflict, Problems.CalendarLinkedElsewhere);
            Assert.Contains("another clinic", problem.GetProperty("detail").GetString());
            Assert.DoesNotContain(a.Id.ToString(), problem.GetProperty("detail").GetString());
        }
        var own = await ProblemAsync(await aAdmin.PutAsJsonAsync(Url(a, aSecond), new { calendarId = cal }), HttpStatusCode.Conflict, Problems.CalendarLinkedElsewhere);
        Assert.Contains(a.PractitionerId.ToString(), own.GetProperty("detail").GetString());
        Assert.Null(await TestApp.ScalarAsync<string>("select calendar_id from practitioners where id = $1", b.PractitionerId));
        Assert.Null(await TestApp.ScalarAsync<string>("select calendar_id from practitioners where id = $1", aSecond));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from calendar_syncs where clinic_id = $1", b.Id));

        // Unlinked in A, the calendar is free for B.
        await TestClinic.Json(await aAdmin.PutAsJsonAsync(Url(a), new { calendarId = (string?)null }));
        Assert.Equal(cal, (await TestClinic.Json(await bAdmin.PutAsJsonAsync(Url(b), new { calendarId = alias }))).GetProperty("calendarId").GetString());
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from calendar_links where clinic_id = $1", a.Id));
    }

    [Fact]
    public async Task A_calendar_Google_does_not_show_or_the_primary_alias_or_Google_down_is_refused_and_stores_nothing()
    {
        await using var app = Start(_fake);
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = app.As(c.Id);
        var unknown = await ProblemAsync(await admin.PutAsJsonAsync(Url(c), new { calendarId = NewCalendarId() }), HttpStatusCode.UnprocessableEntity, Problems.CalendarNotShared);
        Assert.Contains(_fake.ClientEmail, unknown.GetProperty("detail").GetString());
        await ProblemAsync(await admin.PutAsJsonAsync(Url(c), new { calendarId = "primary" }), HttpStatusCode.BadRequest, Problems.Validation);

        var cal = NewCalendarId();
        _fake.AddCalendar(cal, await VerificationCodeAsync(admin, c.Id));
        _fake.Down = true;
        try
        {
            await ProblemAsync(await admin.PutAsJsonAsync(Url(c), new { calendarId = cal }), HttpStatusCode.ServiceUnavailable, Problems.Unavailable);
        }
        finally
        {
            _fake.Down = false;
        }
        _fake.FailNext(500);
        await ProblemAsync(await admin.PutAsJsonAsync(Url(c), new { calendarId = cal }), HttpStatusCode.ServiceUnavailable, Problems.Unavailable);
        Assert.Null(await TestApp.ScalarAsync<string>("select calendar_id from practitioners where id = $1", c.PractitionerId));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from calendar_links where clinic_id = $1", c.Id));
    }

    [Fact]
    public async Task Even_code_that_bypasses_the_API_cannot_link_one_calendar_to_two_clinics_though_neither_sees_the_others_link()
    {
        var a = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var b = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var cal = NewCalendarId();
        await using (var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(a.Id, "direct", "admin"), default))
        {
            Assert.Equal(1, await s.ExecuteAsync("update practitioners set calendar_id = @Cal where id = @P", new { Cal = cal, P = a.PractitionerId }));
            await s.CommitAsync(default);
        }
        await using (var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(b.Id, "direct", "admin"), default))
        {
            Assert.Empty(await s.QueryAsync<Guid>("select clinic_id from calendar_links"));   // RLS: A's link is invisible to B
            var e = await Assert.ThrowsAsync<PostgresException>(() =>
                s.ExecuteAsync("update practitioners set calendar_id = @Cal where id = @P", new { Cal = cal.ToUpperInvariant(), P = b.PractitionerId }));
            Assert.Equal(PostgresErrorCodes.UniqueViolation, e.SqlState);
            Assert.Equal("calendar_links_pkey", e.ConstraintName);
        }
        Assert.Null(await TestApp.ScalarAsync<string>("select calendar_id from practitioners where id = $1", b.PractitionerId));
    }
}
