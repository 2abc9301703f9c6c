using System.Net;
using System.Net.Http.Json;
using Frontdesk.Manage;
using Frontdesk.Tests.BookingPage;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Privacy;
using Microsoft.Extensions.DependencyInjection;
using static Frontdesk.Tests.Manage.PatientScenario;

namespace Frontdesk.Tests.Manage;

/// <summary>/manage/{token}: the patient's page for one booking (issue 18), on the test server with the fake Twilio.</summary>
[Collection("twilio")]
public class ManagePageTests(TwilioFixture fx)
{
    public sealed record Booked(TestClinic Clinic, Guid PatientId, string Phone, Guid BookingId, Guid SlotId, string Token)
    {
        public string Path => ManageLinkToken.PathPrefix + Token;
    }

    /// <summary>A clinic with an address and phone, <paramref name="slots"/> free times of Dr Test, and a
    /// booking of the second one for a new patient, with its manage link.</summary>
    public static async Task<Booked> BookedAsync(ManageLinkToken tokens, int slots = 6, int slot = 1)
    {
        var clinic = await BookingPageTests.ClinicAsync(slots);
        var (patient, phone) = await PatientAsync(clinic);
        var booking = await BookAsync(clinic, patient, clinic.SlotIds[slot]);
        var starts = await TestApp.ScalarAsync<DateTime>("select starts_at from bookings where id = $1", booking);
        return new Booked(clinic, patient, phone, booking, clinic.SlotIds[slot],
            tokens.Create(clinic.Id, booking, new DateTimeOffset(starts, TimeSpan.Zero)));
    }

    ManageLinkToken Tokens => fx.App.Services.GetRequiredService<ManageLinkToken>();

    static readonly string[] NoseSynonyms = ["nose job"];

    Task<Booked> NewAsync(int slots = 6) => BookedAsync(Tokens, slots);

    static Task<string?> BookingAsync(Guid bookingId) =>
        TestApp.ScalarAsync<string>("select status || '|' || slot_id from bookings where id = $1", bookingId);

    static Task<long> MessagesAsync(Guid clinicId) =>
        TestApp.ScalarAsync<long>("select count(*) from sms_messages where clinic_id = $1", clinicId);

    [Fact]
    public async Task The_link_shows_the_booking_in_the_clinics_time_and_free_times_of_its_practitioner_long_enough_with_the_booking_pages_headers()
    {
        var b = await NewAsync();
        // Another practitioner's free time and a shorter slot of Dr Test are not times this booking can move to.
        using var svc = TestApp.Service();
        var other = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{b.Clinic.Id}/practitioners", new { name = "Dr Other" }))).GetProperty("id").GetGuid();
        var (start, _) = await Calendar.CalendarTestHost.SlotTimesAsync(b.Clinic.SlotIds[0]);
        await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{b.Clinic.Id}/slots",
            new { practitionerId = other, startsAt = start, endsAt = start.AddMinutes(60), durationMinutes = 30 }));
        var shortSlot = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{b.Clinic.Id}/slots",
            new { practitionerId = b.Clinic.PractitionerId, startsAt = start.AddDays(1), endsAt = start.AddDays(1).AddMinutes(15), durationMinutes = 15 })))
            .GetProperty("slots")[0].GetProperty("id").GetGuid();

        using var browser = Browser(fx.App);
        var r = await browser.GetAsync(b.Path);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var doc = await HtmlAsync(r);
        Assert.Equal("Your appointment", Assert.Single(doc.QuerySelectorAll("h1")).TextContent);
        var details = doc.QuerySelector("dl")!.TextContent;
        Assert.Contains("Dr Test", details);
        Assert.Contains(BookingPageTests.Address, details);
        Assert.Contains((await TestApp.ScalarAsync<string>(
            "select to_char(starts_at at time zone 'Europe/London', 'HH24:MI') || '–' || to_char(ends_at at time zone 'Europe/London', 'HH24:MI') from bookings where id = $1",
            b.BookingId))!, details);

        var offered = SlotValues(doc);
        Assert.Equal(b.Clinic.SlotIds.Where(id => id != b.SlotId).Order(), offered.Order());
        Assert.DoesNotContain(shortSlot, offered);
        Assert.Equal("Choose a new time", doc.QuerySelector("fieldset.times > legend")!.TextContent);
        Assert.Equal(b.Path + "/move", doc.QuerySelector("form")!.GetAttribute("action"));
        Assert.NotEmpty(Csrf(doc));
        Assert.Equal(b.Path + "/cancel", doc.QuerySelectorAll("a").Single(a => a.TextContent == "Cancel this appointment").GetAttribute("href"));

        var csp = r.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("default-src 'none'", csp);
        Assert.DoesNotContain("script-src", csp);
        Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", r.Headers.GetValues("Referrer-Policy").Single());
        Assert.Equal("DENY", r.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-store", r.Headers.CacheControl!.ToString());
        Assert.Empty(doc.QuerySelectorAll("script"));
        var cookie = r.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("fd_csrf=", StringComparison.Ordinal));
        Assert.Contains("path=/manage", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task For_a_booking_with_a_procedure_the_link_names_it_and_offers_free_times_of_every_practitioner_who_consults_for_it()
    {
        var b = await NewAsync(slots: 4);
        using var svc = TestApp.Service();
        var (start, _) = await Calendar.CalendarTestHost.SlotTimesAsync(b.Clinic.SlotIds[0]);
        async Task<(Guid Id, Guid[] Slots)> PractitionerAsync(string name, DateTimeOffset from, int count)
        {
            var id = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{b.Clinic.Id}/practitioners", new { name }))).GetProperty("id").GetGuid();
            var gen = await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{b.Clinic.Id}/slots",
                new { practitionerId = id, startsAt = from, endsAt = from.AddMinutes(30 * count), durationMinutes = 30 }));
            return (id, gen.GetProperty("slots").EnumerateArray().Select(s => s.GetProperty("id").GetGuid()).ToArray());
        }
        var (other, otherSlots) = await PractitionerAsync("Dr Other", start.AddDays(1), 2);
        var (_, thirdSlots) = await PractitionerAsync("Dr Third", start.AddDays(2), 1);
        using (var admin = fx.As(b.Clinic.Id))
        {
            var put = await admin.PutAsJsonAsync($"/api/clinics/{b.Clinic.Id}/procedures/Rhinoplasty",
                new { synonyms = NoseSynonyms, practitionerIds = new[] { b.Clinic.PractitionerId, other } });
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }
        // The procedure the booking was made for, as voice booking records it.
        await TestApp.ExecAsync("""
            update bookings set procedure_id = (select id from clinic_procedures where clinic_id = $1 and name = 'Rhinoplasty') where id = $2
            """, b.Clinic.Id, b.BookingId);

        using var browser = Browser(fx.App);
        var doc = await HtmlAsync(await browser.GetAsync(b.Path));
        Assert.Contains("Rhinoplasty consultation", doc.QuerySelector("dl")!.TextContent);
        var offered = SlotValues(doc);
        Assert.Equal(b.Clinic.SlotIds.Where(id => id != b.SlotId).Concat(otherSlots).Order(), offered.Order());

        // Dr Third does not consult for Rhinoplasty: a forged form cannot move the booking there.
        var refused = await browser.PostAsync(b.Path + "/move", Form(("csrf", Csrf(doc)), ("slot", thirdSlots[0].ToString())));
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.Equal("confirmed|" + b.SlotId, await BookingAsync(b.BookingId));

        var moved = await browser.PostAsync(b.Path + "/move", Form(("csrf", Csrf(doc)), ("slot", otherSlots[1].ToString())));
        Assert.Equal(HttpStatusCode.Redirect, moved.StatusCode);
        Assert.Equal($"confirmed|{otherSlots[1]}|{other}", await TestApp.ScalarAsync<string>(
            "select status || '|' || slot_id || '|' || practitioner_id from bookings where id = $1", b.BookingId));
        var sms = await SmsAsync(fx.Fake, b.Phone, 1);
        Assert.Contains("your Rhinoplasty consultation is now", sms.Body);
        Assert.Contains("with Dr Other", sms.Body);
    }

    [Fact]
    public async Task Rescheduling_moves_the_booking_through_the_slot_engine_audits_it_texts_the_new_time_and_redirects_to_the_new_link()
    {
        var b = await NewAsync();
        using var browser = Browser(fx.App);
        var doc = await HtmlAsync(await browser.GetAsync(b.Path));
        var target = b.Clinic.SlotIds[4];

        var post = await browser.PostAsync(b.Path + "/move", Form(("csrf", Csrf(doc)), ("slot", target.ToString())));
        Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
        var (newStart, _) = await Calendar.CalendarTestHost.SlotTimesAsync(target);
        var newPath = Tokens.PathFor(b.Clinic.Id, b.BookingId, newStart);
        Assert.Equal(newPath + "?moved=1", post.Headers.Location!.OriginalString);

        Assert.Equal("confirmed|" + target, await BookingAsync(b.BookingId));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", b.SlotId));
        Assert.Equal(b.PatientId, await TestApp.ScalarAsync<Guid>("select claimed_by from calendar_slots where id = $1", target));
        Assert.Equal($"{target}|{b.SlotId}", await TestApp.ScalarAsync<string>("""
            select detail->>'slotId' || '|' || (detail->>'previousSlotId') from audit_trail
            where clinic_id = $1 and action = 'moved' and entity = 'booking' and entity_id = $2 and actor = 'manage_link'
            """, b.Clinic.Id, b.BookingId.ToString()));

        var moved = await HtmlAsync(await browser.GetAsync(newPath + "?moved=1"));
        Assert.Contains("has been moved", moved.QuerySelector("[role=status]")!.TextContent);
        Assert.Contains((await TestApp.ScalarAsync<string>("select to_char($1::timestamptz at time zone 'Europe/London', 'HH24:MI')", newStart))!, moved.QuerySelector("dl")!.TextContent);
        Assert.Contains(b.SlotId, SlotValues(moved));   // the old time is free again

        var sms = await SmsAsync(fx.Fake, b.Phone, 1);
        Assert.Contains("your appointment is now", sms.Body);
        Assert.Contains("with Dr Test", sms.Body);
        Assert.Contains("https://frontdesk.test" + newPath, sms.Body);
        Assert.Equal("confirmation", await TestApp.ScalarAsync<string>("select purpose from sms_messages where clinic_id = $1", b.Clinic.Id));
    }

    [Fact]
    public async Task A_time_taken_meanwhile_answers_409_with_the_nearest_free_times_and_the_booking_stays()
    {
        var b = await NewAsync();
        using var browser = Browser(fx.App);
        var doc = await HtmlAsync(await browser.GetAsync(b.Path));
        var target = b.Clinic.SlotIds[3];
        var (rival, _) = await PatientAsync(b.Clinic, "Rival Patient");
        await BookAsync(b.Clinic, rival, target);

        var r = await browser.PostAsync(b.Path + "/move", Form(("csrf", Csrf(doc)), ("slot", target.ToString())));
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        var page = await HtmlAsync(r);
        Assert.Contains("just taken", page.QuerySelector("[role=alert]")!.TextContent);
        Assert.Contains("has not changed", page.QuerySelector("[role=alert]")!.TextContent);
        Assert.Equal("Nearest free times", page.QuerySelector("fieldset.times > legend")!.TextContent);
        var alternatives = SlotValues(page);
        Assert.NotEmpty(alternatives);
        Assert.DoesNotContain(target, alternatives);
        Assert.DoesNotContain(b.SlotId, alternatives);
        Assert.Equal("confirmed|" + b.SlotId, await BookingAsync(b.BookingId));

        // One of them works.
        var ok = await browser.PostAsync(b.Path + "/move", Form(("csrf", Csrf(page)), ("slot", alternatives[0].ToString())));
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        Assert.Equal("confirmed|" + alternatives[0], await BookingAsync(b.BookingId));
    }

    [Fact]
    public async Task Cancel_asks_first_then_cancels_frees_the_slot_audits_and_texts_it_and_the_link_is_dead_afterwards()
    {
        var b = await NewAsync();
        using var browser = Browser(fx.App);

        var ask = await browser.GetAsync(b.Path + "/cancel");
        Assert.Equal(HttpStatusCode.OK, ask.StatusCode);
        var confirm = await HtmlAsync(ask);
        Assert.Equal("Cancel your booking?", confirm.QuerySelector("h1")!.TextContent);
        Assert.Equal(b.Path + "/cancel", confirm.QuerySelector("form")!.GetAttribute("action"));
        Assert.Equal("confirmed|" + b.SlotId, await BookingAsync(b.BookingId));   // asking changes nothing

        var r = await browser.PostAsync(b.Path + "/cancel", Form(("csrf", Csrf(confirm))));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var done = await HtmlAsync(r);
        Assert.Equal("Your booking is cancelled", done.QuerySelector("h1")!.TextContent);
        Assert.Equal("cancelled|" + b.SlotId, await BookingAsync(b.BookingId));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", b.SlotId));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("""
            select count(*) from audit_trail where clinic_id = $1 and action = 'cancelled' and entity_id = $2 and actor = 'manage_link'
            """, b.Clinic.Id, b.BookingId.ToString()));
        var sms = await SmsAsync(fx.Fake, b.Phone, 1);
        Assert.Contains("is cancelled", sms.Body);
        Assert.Contains(BookingPageTests.ClinicPhone, sms.Body);
        Assert.DoesNotContain("CANCEL", sms.Body);

        // Dead: every route of the link says so, and nothing more happens.
        foreach (var (method, path) in new[] { ("GET", b.Path), ("GET", b.Path + "/cancel"), ("POST", b.Path + "/cancel"), ("POST", b.Path + "/move") })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path)
            {
                Content = method == "POST" ? Form(("csrf", Csrf(confirm)), ("slot", b.Clinic.SlotIds[4].ToString())) : null,
            };
            var dead = await browser.SendAsync(request);
            Assert.Equal(HttpStatusCode.Gone, dead.StatusCode);
            var page = await HtmlAsync(dead);
            Assert.Equal("This link is no longer valid", page.QuerySelector("h1")!.TextContent);
            Assert.Contains("cancelled", page.Body!.TextContent);
        }
        Assert.Equal("cancelled|" + b.SlotId, await BookingAsync(b.BookingId));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", b.Clinic.SlotIds[4]));
        Assert.Equal(1L, await MessagesAsync(b.Clinic.Id));
    }

    [Fact]
    public async Task After_an_erasure_the_link_is_no_longer_valid_names_nothing_of_the_booking_and_changes_nothing()
    {
        var b = await NewAsync();
        using var browser = Browser(fx.App);
        var doc = await HtmlAsync(await browser.GetAsync(b.Path));
        using var admin = fx.As(b.Clinic.Id);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/patients/{b.Clinic.Id}/{b.PatientId}")).StatusCode);
        var messages = await MessagesAsync(b.Clinic.Id);

        foreach (var r in new[]
                 {
                     await browser.GetAsync(b.Path),
                     await browser.GetAsync(b.Path + "/cancel"),
                     await browser.PostAsync(b.Path + "/cancel", Form(("csrf", Csrf(doc)))),
                     await browser.PostAsync(b.Path + "/move", Form(("csrf", Csrf(doc)), ("slot", b.Clinic.SlotIds[4].ToString()))),
                 })
        {
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
            var page = await HtmlAsync(r);
            Assert.Equal("This link is no longer valid", page.QuerySelector("h1")!.TextContent);
            Assert.Null(page.QuerySelector("dl"));
            Assert.DoesNotContain("Dr Test", page.Body!.TextContent);
        }
        // The erasure cancelled the future booking; the link moved nothing and texted nobody.
        Assert.Equal("cancelled|" + b.SlotId, await BookingAsync(b.BookingId));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", b.Clinic.SlotIds[4]));
        Assert.Equal(messages, await MessagesAsync(b.Clinic.Id));
    }

    [Fact]
    public async Task Bad_links_and_bad_forms_get_4xx_pages_and_change_nothing()
    {
        var b = await NewAsync();
        using var browser = Browser(fx.App);
        var doc = await HtmlAsync(await browser.GetAsync(b.Path));
        var csrf = Csrf(doc);
        var target = b.Clinic.SlotIds[4].ToString();

        // Tampered, foreign-purpose and truncated tokens name nothing.
        var tampered = (b.Token[0] == 'A' ? 'B' : 'A') + b.Token[1..];
        var cancelToken = fx.App.Services.GetRequiredService<Frontdesk.BookingPage.CancelLinkToken>().Create(b.Clinic.Id, b.BookingId, Guid.NewGuid(), DateTimeOffset.UtcNow.AddDays(3));
        foreach (var token in new[] { tampered, cancelToken, b.Token[..20], "x" })
        {
            var r = await browser.GetAsync(ManageLinkToken.PathPrefix + token);
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
            var page = await HtmlAsync(r);
            Assert.Equal("This link isn't valid", page.QuerySelector("h1")!.TextContent);
            Assert.DoesNotContain("Dr Test", page.Body!.TextContent);
            Assert.Equal(HttpStatusCode.NotFound, (await browser.PostAsync(ManageLinkToken.PathPrefix + token + "/move", Form(("csrf", csrf), ("slot", target)))).StatusCode);
        }

        // An authentic link past its time (the appointment started) is gone.
        var expired = Tokens.Create(b.Clinic.Id, b.BookingId, DateTimeOffset.UtcNow.AddMinutes(-1));
        var old = await browser.GetAsync(ManageLinkToken.PathPrefix + expired);
        Assert.Equal(HttpStatusCode.Gone, old.StatusCode);
        Assert.Contains("passed", (await HtmlAsync(old)).Body!.TextContent);

        // CSRF: missing, wrong, or another link's field; then no slot, a garbage slot, an unknown one.
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.PostAsync(b.Path + "/move", Form(("slot", target)))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.PostAsync(b.Path + "/move", Form(("csrf", "forged"), ("slot", target)))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.PostAsync(b.Path + "/cancel", Form(("csrf", csrf + "x")))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.PostAsync(b.Path + "/move", new StringContent("{\"slot\": 1}", System.Text.Encoding.UTF8, "application/json"))).StatusCode);
        var noSlot = await browser.PostAsync(b.Path + "/move", Form(("csrf", csrf)));
        Assert.Equal(HttpStatusCode.BadRequest, noSlot.StatusCode);
        Assert.Equal("Please choose a new time first.", (await HtmlAsync(noSlot)).QuerySelector("[role=alert]")!.TextContent);
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.PostAsync(b.Path + "/move", Form(("csrf", csrf), ("slot", "not-a-slot")))).StatusCode);
        // A value the form reader refuses (NUL) is the same 400 page, never a 500.
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.PostAsync(b.Path + "/move", Form(("csrf", csrf), ("slot", "not-a-slot\0")))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.PostAsync(b.Path + "/move", Form(("csrf", csrf), ("slot", Guid.NewGuid().ToString())))).StatusCode);

        // A forged form naming another clinic's slot finds nothing.
        var foreign = await TestClinic.CreateAsync(slots: 1, patients: 0);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.PostAsync(b.Path + "/move", Form(("csrf", csrf), ("slot", foreign.SlotIds[0].ToString())))).StatusCode);

        // A cross-site form (the browser sends no SameSite=Strict cookie) fails the CSRF check.
        using var stranger = Browser(fx.App);
        Assert.Equal(HttpStatusCode.BadRequest, (await stranger.PostAsync(b.Path + "/cancel", Form(("csrf", csrf)))).StatusCode);

        Assert.Equal("confirmed|" + b.SlotId, await BookingAsync(b.BookingId));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", foreign.SlotIds[0]));
        Assert.Equal(0L, await MessagesAsync(b.Clinic.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and actor = 'manage_link'", b.Clinic.Id));
    }

    [Fact]
    public async Task A_slot_of_another_practitioner_a_shorter_one_or_one_beyond_the_pages_horizon_is_refused_even_from_a_forged_form()
    {
        var b = await NewAsync();
        using var svc = TestApp.Service();
        var other = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{b.Clinic.Id}/practitioners", new { name = "Dr Other" }))).GetProperty("id").GetGuid();
        var (start, _) = await Calendar.CalendarTestHost.SlotTimesAsync(b.Clinic.SlotIds[0]);
        var otherSlot = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{b.Clinic.Id}/slots",
            new { practitionerId = other, startsAt = start, endsAt = start.AddMinutes(30), durationMinutes = 30 }))).GetProperty("slots")[0].GetProperty("id").GetGuid();
        var shortSlot = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{b.Clinic.Id}/slots",
            new { practitionerId = b.Clinic.PractitionerId, startsAt = start.AddDays(1), endsAt = start.AddDays(1).AddMinutes(15), durationMinutes = 15 })))
            .GetProperty("slots")[0].GetProperty("id").GetGuid();
        // Its own practitioner, long enough, but further ahead than the page offers (BookingPage:Days, 14).
        var farSlot = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{b.Clinic.Id}/slots",
            new { practitionerId = b.Clinic.PractitionerId, startsAt = start.AddDays(60), endsAt = start.AddDays(60).AddMinutes(30), durationMinutes = 30 })))
            .GetProperty("slots")[0].GetProperty("id").GetGuid();

        using var browser = Browser(fx.App);
        var csrf = Csrf(await HtmlAsync(await browser.GetAsync(b.Path)));
        foreach (var slot in new[] { otherSlot, shortSlot, farSlot })
        {
            var r = await browser.PostAsync(b.Path + "/move", Form(("csrf", csrf), ("slot", slot.ToString())));
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
            Assert.Contains("not offered", (await HtmlAsync(r)).QuerySelector("[role=alert]")!.TextContent);
            Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", slot));
        }
        Assert.Equal("confirmed|" + b.SlotId, await BookingAsync(b.BookingId));
    }

    [Fact]
    public async Task An_opted_out_number_gets_no_text_but_the_move_and_the_cancel_stand()
    {
        var b = await NewAsync();
        await CallerHashes.OptOutAsync(b.Clinic.Id, b.Phone);
        using var browser = Browser(fx.App);
        var doc = await HtmlAsync(await browser.GetAsync(b.Path));
        var move = await browser.PostAsync(b.Path + "/move", Form(("csrf", Csrf(doc)), ("slot", b.Clinic.SlotIds[5].ToString())));
        Assert.Equal(HttpStatusCode.Redirect, move.StatusCode);
        Assert.Equal("confirmed|" + b.Clinic.SlotIds[5], await BookingAsync(b.BookingId));

        Assert.EndsWith("?moved=2", move.Headers.Location!.OriginalString);
        var moved = await HtmlAsync(await browser.GetAsync(move.Headers.Location!.OriginalString));
        // The page does not claim a text that was never sent.
        var notice = moved.QuerySelector("[role=status]")!.TextContent;
        Assert.Contains("has been moved", notice);
        Assert.DoesNotContain("sent", notice);
        var cancel = await browser.PostAsync(move.Headers.Location!.OriginalString.Split('?')[0] + "/cancel", Form(("csrf", Csrf(moved))));
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal("cancelled|" + b.Clinic.SlotIds[5], await BookingAsync(b.BookingId));
        Assert.Equal(0L, await MessagesAsync(b.Clinic.Id));
    }

    [Fact]
    public async Task Two_moves_of_one_booking_at_once_leave_it_on_exactly_one_new_slot()
    {
        var b = await NewAsync();
        using var browser = Browser(fx.App);
        var csrf = Csrf(await HtmlAsync(await browser.GetAsync(b.Path)));
        var targets = new[] { b.Clinic.SlotIds[3], b.Clinic.SlotIds[4] };
        var results = await Task.WhenAll(targets.Select(t => browser.PostAsync(b.Path + "/move", Form(("csrf", csrf), ("slot", t.ToString())))));
        Assert.All(results, r => Assert.True(r.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Gone, r.StatusCode.ToString()));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from calendar_slots where clinic_id = $1 and claimed_by is not null", b.Clinic.Id));
        var slot = await TestApp.ScalarAsync<Guid>("select slot_id from bookings where id = $1", b.BookingId);
        Assert.Contains(slot, targets);
        Assert.Equal(b.PatientId, await TestApp.ScalarAsync<Guid>("select claimed_by from calendar_slots where id = $1", slot));
    }

    [Fact]
    public async Task One_manage_link_asked_for_too_often_gets_the_booking_pages_429_even_from_many_addresses()
    {
        var b = await NewAsync();
        var statuses = new List<int>();
        for (var i = 0; i < 31; i++)
        {
            var http = await fx.App.Server.SendAsync(c =>
            {
                c.Request.Method = "GET";
                c.Request.Path = b.Path;
                c.Connection.RemoteIpAddress = IPAddress.Parse($"198.51.100.{i + 1}");
            });
            statuses.Add(http.Response.StatusCode);
            if (i == 30)
            {
                Assert.Equal("text/html; charset=utf-8", http.Response.ContentType);
                Assert.True(int.Parse(http.Response.Headers.RetryAfter!, System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 60);
                Assert.Contains("default-src 'none'", http.Response.Headers.ContentSecurityPolicy.ToString());
            }
        }
        Assert.All(statuses.Take(30), s => Assert.Equal(200, s));
        Assert.Equal(429, statuses[30]);
    }
}
