using System.Net;
using System.Net.Http.Json;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using Frontdesk.FollowUp;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

using Frontdesk.Bench;

namespace Frontdesk.Tests.BookingPage;

/// <summary>The booking page's routes on the test server (the fake Twilio behind the outbox).</summary>
[Collection("twilio")]
public class BookingPageTests(TwilioFixture fx)
{
    public const string Address = "1 Harley Street, London W1G 9QD";
    public const string ClinicPhone = "+442071234567";

    /// <summary>A clinic with free slots, a hang-up follow-up for a new caller, and the link from it.</summary>
    public sealed record Link(TestClinic Clinic, string ClinicName, string Phone, Guid LeadId, string Token)
    {
        public string Path => "/book/" + Token;
    }

    public static async Task<Link> FollowUpAsync(HttpClient api, TestClinic clinic, string phone, string patientName = "Jane Doe")
    {
        var r = await api.PostAsJsonAsync("/functions/v1/trigger_followup_sms", new
        {
            eventType = "call_ended", callId = "call_" + Guid.NewGuid().ToString("N"), voxanAgentId = "voxan_001",
            patientPhone = phone, patientName, leadId = "lead_xyz_789", keyword = "Rhinoplasty",
            bookingConfirmed = false, callDuration = 245, transcript = "interested in rhinoplasty... hung up",
        });
        Assert.True(r.StatusCode == HttpStatusCode.Accepted, await r.Content.ReadAsStringAsync());
        var leadId = (await TwilioFixture.JsonAsync(r)).GetProperty("leadId").GetGuid();
        var link = await TestApp.ScalarAsync<string>("select booking_link from lead_followups where lead_id = $1", leadId);
        var name = await TestApp.ScalarAsync<string>("select name from clinics where id = $1", clinic.Id);
        return new Link(clinic, name!, phone, leadId, link![(link!.IndexOf("/book/", StringComparison.Ordinal) + 6)..]);
    }

    public static async Task<TestClinic> ClinicAsync(int slots = 6)
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync(slots: slots);
        await TestApp.ExecAsync("update clinics set address = $1, phone = $2 where id = $3", Address, ClinicPhone, clinic.Id);
        return clinic;
    }

    async Task<Link> NewLinkAsync(int slots = 6, string patientName = "Jane Doe")
    {
        var clinic = await ClinicAsync(slots);
        using var api = fx.As(clinic.Id);
        return await FollowUpAsync(api, clinic, TwilioFixture.NewPhone(), patientName);
    }

    /// <summary>A browser-like client: keeps cookies, does not follow redirects.</summary>
    HttpClient Browser() => fx.App.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    static async Task<IDocument> HtmlAsync(HttpResponseMessage r)
    {
        Assert.Equal("text/html", r.Content.Headers.ContentType?.MediaType);
        return await new HtmlParser().ParseDocumentAsync(await r.Content.ReadAsStringAsync());
    }

    static string Csrf(IDocument doc) => doc.QuerySelector("input[name=csrf]")!.GetAttribute("value")!;

    static List<string> SlotValues(IDocument doc) =>
        doc.QuerySelectorAll("input[type=radio][name=slot]").Select(e => e.GetAttribute("value")!).ToList();

    static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)));

    [Fact]
    public async Task Valid_link_lists_free_times_by_day_in_an_accessible_form_with_security_headers()
    {
        var link = await NewLinkAsync();
        using var browser = Browser();
        var r = await browser.GetAsync(link.Path);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var doc = await HtmlAsync(r);

        Assert.Equal("en", doc.DocumentElement.GetAttribute("lang"));
        var h1 = Assert.Single(doc.QuerySelectorAll("h1"));
        Assert.Equal("Book your Rhinoplasty consultation", h1.TextContent);
        Assert.Contains(link.ClinicName, doc.QuerySelector("p.clinic")!.TextContent);
        Assert.Contains("Hi Jane Doe", doc.Body!.TextContent);
        Assert.Equal("width=device-width, initial-scale=1", doc.QuerySelector("meta[name=viewport]")!.GetAttribute("content"));

        // One radio group: a fieldset with a legend, a nested fieldset per day, every radio inside its label.
        var group = doc.QuerySelector("form fieldset.times")!;
        Assert.Equal("Choose a time", group.QuerySelector("legend")!.TextContent);
        var days = group.QuerySelectorAll("fieldset.day");
        Assert.NotEmpty(days);
        Assert.All(days, d => Assert.False(string.IsNullOrWhiteSpace(d.QuerySelector("legend")?.TextContent)));
        var radios = doc.QuerySelectorAll("input[type=radio]");
        Assert.Equal(link.Clinic.SlotIds.Order().Select(g => g.ToString()), SlotValues(doc).Select(Guid.Parse).Order().Select(g => g.ToString()));
        Assert.All(radios, r => Assert.Equal("LABEL", r.ParentElement!.TagName));
        Assert.Equal("Confirm booking", doc.QuerySelector("form button[type=submit]")!.TextContent);
        // Times in the clinic's zone, not UTC.
        Assert.Equal(await TestApp.ScalarAsync<string>("select to_char(starts_at at time zone 'Europe/London', 'HH24:MI') from calendar_slots where id = $1",
            Guid.Parse(radios[0].GetAttribute("value")!)), radios[0].ParentElement!.QuerySelector("b")!.TextContent);
        Assert.NotEmpty(Csrf(doc));
        Assert.Contains($"tel:{ClinicPhone}", doc.QuerySelector("footer a")!.GetAttribute("href"));

        Assert.Contains("default-src 'none'", r.Headers.GetValues("Content-Security-Policy").Single());
        Assert.DoesNotContain("script-src", r.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", r.Headers.GetValues("Referrer-Policy").Single());
        Assert.Equal("no-store", r.Headers.CacheControl!.ToString());
        Assert.Empty(doc.QuerySelectorAll("script"));
    }

    [Fact]
    public async Task Confirming_a_time_books_it_from_sms_link_converts_the_lead_and_texts_a_confirmation_with_a_cancel_link()
    {
        var link = await NewLinkAsync();
        using var browser = Browser();
        var doc = await HtmlAsync(await browser.GetAsync(link.Path));
        var slot = SlotValues(doc)[1];

        var post = await browser.PostAsync(link.Path, Form(("csrf", Csrf(doc)), ("slot", slot)));
        Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
        Assert.Equal(link.Path, post.Headers.Location!.OriginalString);

        var confirmation = await HtmlAsync(await browser.GetAsync(link.Path));
        Assert.Equal("You're booked", confirmation.QuerySelector("h1")!.TextContent);
        Assert.Contains("sent the details to your phone", confirmation.QuerySelector("[role=status]")!.TextContent);
        Assert.Empty(confirmation.QuerySelectorAll("form"));
        var details = confirmation.QuerySelector("dl")!.TextContent;
        Assert.Contains("Rhinoplasty consultation", details);
        Assert.Contains(Address, details);
        Assert.Contains("Dr Test", details);
        var cancelHref = confirmation.QuerySelectorAll("a").Single(a => a.TextContent == "Cancel this booking").GetAttribute("href")!;
        Assert.StartsWith("/book/cancel/", cancelHref);

        var bookingId = await TestApp.ScalarAsync<Guid>("select converted_booking_id from leads where id = $1", link.LeadId);
        Assert.NotNull(await TestApp.ScalarAsync<DateTime?>("select converted_at from leads where id = $1", link.LeadId));
        Assert.Equal("sms_link|confirmed|" + slot, await TestApp.ScalarAsync<string>(
            "select source || '|' || status || '|' || slot_id from bookings where id = $1", bookingId));
        Assert.Equal(link.Phone, await TestApp.ScalarAsync<string>(
            "select p.phone from bookings b join patients p on p.id = b.patient_id where b.id = $1", bookingId));
        Assert.Equal(bookingId.ToString(), await TestApp.ScalarAsync<string>(
            "select entity_id from audit_trail where clinic_id = $1 and action = 'created' and entity = 'booking' and actor = 'booking_page'", link.Clinic.Id));

        var sms = await WaitForSmsAsync(link.Phone, 2);
        Assert.Contains($"Your Rhinoplasty consultation at {link.ClinicName} is booked for", sms.Body);
        Assert.Contains(Address, sms.Body);
        Assert.Contains("https://frontdesk.test" + cancelHref, sms.Body);
    }

    [Fact]
    public async Task Past_the_clinics_daily_SMS_quota_the_booking_stands_and_its_confirmation_is_kept_as_failed_not_sent()
    {
        var link = await NewLinkAsync();
        await fx.Fake.WaitForAsync(link.Phone, TimeSpan.FromSeconds(60));
        // The follow-up used the day's only message (issue 14: the quota counts every SMS enqueued).
        await TestApp.ExecAsync("update clinics set sms_daily_quota = 1 where id = $1", link.Clinic.Id);
        using var browser = Browser();
        var doc = await HtmlAsync(await browser.GetAsync(link.Path));
        var post = await browser.PostAsync(link.Path, Form(("csrf", Csrf(doc)), ("slot", SlotValues(doc)[0])));
        Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);

        var bookingId = await TestApp.ScalarAsync<Guid>("select converted_booking_id from leads where id = $1", link.LeadId);
        Assert.Equal("confirmed", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", bookingId));
        Assert.Equal("failed", await TestApp.ScalarAsync<string>(
            "select status from sms_messages where clinic_id = $1 and followup_id is null", link.Clinic.Id));
        Assert.StartsWith("refused: The clinic's daily quota of 1 SMS", await TestApp.ScalarAsync<string>(
            "select error_message from sms_messages where clinic_id = $1 and followup_id is null", link.Clinic.Id));
        Assert.Equal("quota_exceeded", await TestApp.ScalarAsync<string>(
            "select detail->>'confirmationRefused' from audit_trail where clinic_id = $1 and action = 'lead_converted'", link.Clinic.Id));
        await Task.Delay(300);
        Assert.Single(fx.Fake.For(link.Phone));
    }

    async Task<FakeSms> WaitForSmsAsync(string phone, int nth)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < until)
        {
            var all = fx.Fake.For(phone).OrderBy(m => m.At).ToList();
            if (all.Count >= nth) return all[nth - 1];
            await Task.Delay(25);
        }
        throw new TimeoutException($"SMS number {nth} to the lead did not arrive within 60 s");
    }

    [Fact]
    public async Task A_time_taken_meanwhile_gets_409_with_the_nearest_free_times_and_books_nothing()
    {
        var link = await NewLinkAsync();
        using var browser = Browser();
        var doc = await HtmlAsync(await browser.GetAsync(link.Path));
        var chosen = SlotValues(doc)[2];
        // Someone else (the phone agent, a receptionist) takes it while the patient looks at the page.
        var other = (await TestClinic.Json(await TestApp.As(link.Clinic.Id).PostAsJsonAsync($"/api/clinics/{link.Clinic.Id}/patients",
            new { name = "Other Caller", phone = TwilioFixture.NewPhone() }))).GetProperty("id").GetGuid();
        var claim = await TestApp.As(link.Clinic.Id).PostAsJsonAsync("/functions/v1/claim_slot_atomic",
            new { slotId = Guid.Parse(chosen), patientId = other, clinicId = link.Clinic.Id });
        Assert.Equal(HttpStatusCode.OK, claim.StatusCode);

        var r = await browser.PostAsync(link.Path, Form(("csrf", Csrf(doc)), ("slot", chosen)));
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        var page = await HtmlAsync(r);
        Assert.Contains("that time was just taken", page.QuerySelector("[role=alert]")!.TextContent);
        Assert.Equal("Nearest free times", page.QuerySelector("fieldset.times > legend")!.TextContent);
        var offered = SlotValues(page);
        Assert.InRange(offered.Count, 1, 3);
        Assert.DoesNotContain(chosen, offered);
        Assert.Contains(SlotValues(doc)[1], offered);   // the neighbours of the taken slot come first
        Assert.All(page.QuerySelectorAll("label.slot small"), s => Assert.Equal("Dr Test", s.TextContent));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select converted_booking_id from leads where id = $1", link.LeadId));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1 and source = 'sms_link'", link.Clinic.Id));

        // Picking one of the alternatives from that page books it.
        var again = await browser.PostAsync(link.Path, Form(("csrf", Csrf(page)), ("slot", offered[0])));
        Assert.Equal(HttpStatusCode.Redirect, again.StatusCode);
        Assert.Equal(Guid.Parse(offered[0]), await TestApp.ScalarAsync<Guid>(
            "select b.slot_id from leads l join bookings b on b.id = l.converted_booking_id where l.id = $1", link.LeadId));
    }

    [Fact]
    public async Task A_number_that_opted_out_after_the_follow_up_books_without_a_confirmation_text()
    {
        var link = await NewLinkAsync();
        await Frontdesk.Tests.Privacy.CallerHashes.OptOutAsync(link.Clinic.Id, link.Phone, "STOP");
        using var browser = Browser();
        var doc = await HtmlAsync(await browser.GetAsync(link.Path));
        var post = await browser.PostAsync(link.Path, Form(("csrf", Csrf(doc)), ("slot", SlotValues(doc)[0])));
        Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
        var page = await HtmlAsync(await browser.GetAsync(link.Path));
        Assert.Equal("Your consultation is confirmed. Please keep a note of it.", page.QuerySelector("[role=status]")!.TextContent);
        Assert.NotNull(await TestApp.ScalarAsync<Guid?>("select converted_booking_id from leads where id = $1", link.LeadId));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from sms_messages where clinic_id = $1 and to_hash = $2",
            link.Clinic.Id, await Frontdesk.Tests.Privacy.CallerHashes.OfAsync(link.Clinic.Id, link.Phone)));
    }

    [Fact]
    public async Task Names_from_callers_and_clinics_are_encoded_never_markup()
    {
        var link = await NewLinkAsync(patientName: "<img src=x onerror=alert(1)>");
        await TestApp.ExecAsync("update clinics set name = $1 where id = $2", "Smith & \"Jones\" <b>", link.Clinic.Id);
        using var browser = Browser();
        var doc = await HtmlAsync(await browser.GetAsync(link.Path));
        Assert.Empty(doc.QuerySelectorAll("img"));
        Assert.Empty(doc.QuerySelectorAll("main > p.clinic b"));
        Assert.Contains("Hi <img src=x onerror=alert(1)>", doc.Body!.TextContent);
        Assert.Equal("Smith & \"Jones\" <b>", doc.QuerySelector("p.clinic")!.TextContent);
    }

    [Fact]
    public async Task Confirming_twice_keeps_one_booking_and_shows_it()
    {
        var link = await NewLinkAsync();
        using var browser = Browser();
        var doc = await HtmlAsync(await browser.GetAsync(link.Path));
        var values = SlotValues(doc);
        var posts = await Task.WhenAll(browser.PostAsync(link.Path, Form(("csrf", Csrf(doc)), ("slot", values[0]))),
            browser.PostAsync(link.Path, Form(("csrf", Csrf(doc)), ("slot", values[3]))));
        Assert.All(posts, p => Assert.Equal(HttpStatusCode.Redirect, p.StatusCode));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1 and status = 'confirmed'", link.Clinic.Id));
    }

    [Fact]
    public async Task Tampered_link_gets_a_generic_404_page_that_names_no_clinic()
    {
        var link = await NewLinkAsync();
        var tampered = link.Token[..10] + (link.Token[10] == 'A' ? 'B' : 'A') + link.Token[11..];
        using var browser = Browser();
        foreach (var path in new[] { "/book/" + tampered, "/book/not-a-token", "/book/cancel/" + link.Token })
        {
            var r = await browser.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
            var doc = await HtmlAsync(r);
            Assert.Equal("This link isn't valid", doc.QuerySelector("h1")!.TextContent);
            Assert.DoesNotContain(link.ClinicName, doc.Body!.TextContent);
            Assert.DoesNotContain("Exception", doc.Body!.TextContent);
            Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single());
        }
        var post = await browser.PostAsync("/book/" + tampered, Form(("slot", link.Clinic.SlotIds[0].ToString())));
        Assert.Equal(HttpStatusCode.NotFound, post.StatusCode);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1", link.Clinic.Id));
    }

    [Fact]
    public async Task Expired_link_gets_410_naming_the_clinic_and_its_number()
    {
        var link = await NewLinkAsync();
        var tokens = fx.App.Services.GetRequiredService<BookingLinkToken>();
        var expired = tokens.Create(link.Clinic.Id, link.LeadId, "Rhinoplasty", DateTimeOffset.UtcNow.AddMinutes(-1));
        using var browser = Browser();
        var r = await browser.GetAsync("/book/" + expired);
        Assert.Equal(HttpStatusCode.Gone, r.StatusCode);
        var doc = await HtmlAsync(r);
        Assert.Equal("This booking link has expired", doc.QuerySelector("h1")!.TextContent);
        Assert.Contains(link.ClinicName, doc.Body!.TextContent);
        Assert.Contains(doc.QuerySelectorAll("a"), a => a.GetAttribute("href") == "tel:" + ClinicPhone);
        Assert.Empty(doc.QuerySelectorAll("form"));
    }

    [Fact]
    public async Task Link_of_one_clinic_cannot_book_another_clinics_slot()
    {
        var link = await NewLinkAsync();
        var other = await ClinicAsync(slots: 2);
        using var browser = Browser();
        var doc = await HtmlAsync(await browser.GetAsync(link.Path));
        var r = await browser.PostAsync(link.Path, Form(("csrf", Csrf(doc)), ("slot", other.SlotIds[0].ToString())));
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        Assert.Contains("not offered any more", (await HtmlAsync(r)).QuerySelector("[role=alert]")!.TextContent);
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", other.SlotIds[0]));
    }

    [Theory]
    [InlineData("missing field")]
    [InlineData("forged field")]
    [InlineData("field of another link")]
    [InlineData("no cookie")]
    public async Task Confirm_without_a_valid_CSRF_token_is_400_and_books_nothing(string attack)
    {
        var link = await NewLinkAsync();
        using var browser = Browser();
        var doc = await HtmlAsync(await browser.GetAsync(link.Path));
        var slot = SlotValues(doc)[0];
        var otherLink = await NewLinkAsync();
        var otherDoc = await HtmlAsync(await browser.GetAsync(otherLink.Path));   // same browser, same cookie

        using var client = attack == "no cookie" ? Browser() : null;
        var content = attack switch
        {
            "missing field" => Form(("slot", slot)),
            "forged field" => Form(("csrf", (Csrf(doc)[0] == 'A' ? "B" : "A") + Csrf(doc)[1..]), ("slot", slot)),   // never the token itself
            "field of another link" => Form(("csrf", Csrf(otherDoc)), ("slot", slot)),
            _ => Form(("csrf", Csrf(doc)), ("slot", slot)),
        };
        var r = await (client ?? browser).PostAsync(link.Path, content);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal("Please try again", (await HtmlAsync(r)).QuerySelector("h1")!.TextContent);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1", link.Clinic.Id));
    }

    [Fact]
    public async Task No_time_chosen_is_400_with_the_list_again()
    {
        var link = await NewLinkAsync();
        using var browser = Browser();
        var doc = await HtmlAsync(await browser.GetAsync(link.Path));
        var r = await browser.PostAsync(link.Path, Form(("csrf", Csrf(doc))));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var page = await HtmlAsync(r);
        Assert.Equal("Please choose a time first.", page.QuerySelector("[role=alert]")!.TextContent);
        Assert.Equal(6, SlotValues(page).Count);
    }

    async Task<HttpContext> SendAsync(string path, string ip) =>
        await fx.App.Server.SendAsync(c =>
        {
            c.Request.Method = "GET";
            c.Request.Path = path;
            c.Connection.RemoteIpAddress = IPAddress.Parse(ip);
        });

    [Fact]
    public async Task One_link_asked_for_too_often_gets_a_429_page_even_from_many_addresses()
    {
        var link = await NewLinkAsync();
        var statuses = new List<int>();
        for (var i = 0; i < 31; i++)
            statuses.Add((await SendAsync(link.Path, $"198.51.100.{i + 1}")).Response.StatusCode);
        Assert.All(statuses.Take(30), s => Assert.Equal(200, s));
        Assert.Equal(429, statuses[30]);
        var last = await SendAsync(link.Path, "198.51.100.200");
        Assert.Equal(429, last.Response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", last.Response.ContentType);
        Assert.True(int.Parse(last.Response.Headers.RetryAfter!, System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 60);
    }

    [Fact]
    public async Task One_address_trying_many_links_gets_a_429_page()
    {
        var ip = $"203.0.113.{Random.Shared.Next(1, 250)}";
        var statuses = new List<int>();
        for (var i = 0; i < 121; i++)
            statuses.Add((await SendAsync($"/book/guess{i}.x", ip)).Response.StatusCode);
        Assert.All(statuses.Take(120), s => Assert.Equal(404, s));
        Assert.Equal(429, statuses[120]);
    }

    [Fact]
    public async Task Cancel_link_asks_first_then_cancels_frees_the_slot_and_offers_a_new_link()
    {
        var link = await NewLinkAsync();
        using var browser = Browser();
        var doc = await HtmlAsync(await browser.GetAsync(link.Path));
        var slot = Guid.Parse(SlotValues(doc)[0]);
        await browser.PostAsync(link.Path, Form(("csrf", Csrf(doc)), ("slot", slot.ToString())));
        var bookingId = await TestApp.ScalarAsync<Guid>("select converted_booking_id from leads where id = $1", link.LeadId);
        var cancelPath = (await HtmlAsync(await browser.GetAsync(link.Path))).QuerySelectorAll("a")
            .Single(a => a.TextContent == "Cancel this booking").GetAttribute("href")!;

        var ask = await HtmlAsync(await browser.GetAsync(cancelPath));
        Assert.Equal("Cancel your booking?", ask.QuerySelector("h1")!.TextContent);
        Assert.Equal("confirmed", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", bookingId));   // a GET changes nothing

        var forged = await browser.PostAsync(cancelPath, Form(("csrf", Csrf(doc))));   // the booking form's token is bound to the other link
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal("confirmed", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", bookingId));

        var done = await browser.PostAsync(cancelPath, Form(("csrf", Csrf(ask))));
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        var page = await HtmlAsync(done);
        Assert.Equal("Your booking is cancelled", page.QuerySelector("h1")!.TextContent);
        Assert.Equal("cancelled", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", bookingId));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", slot));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select converted_booking_id from leads where id = $1", link.LeadId));

        // The fresh link offers times again, the freed one among them.
        var again = page.QuerySelectorAll("a").Single(a => a.TextContent == "Choose another time").GetAttribute("href")!;
        Assert.Contains(slot.ToString(), SlotValues(await HtmlAsync(await browser.GetAsync(again))));
        Assert.Equal("This booking is already cancelled", (await HtmlAsync(await browser.GetAsync(cancelPath))).QuerySelector("h1")!.TextContent);
    }

    [Fact]
    public async Task A_form_value_the_form_reader_refuses_gets_the_400_page_not_a_500_and_books_nothing()
    {
        var link = await NewLinkAsync();
        using var browser = Browser();
        var doc = await HtmlAsync(await browser.GetAsync(link.Path));
        // Regression: ReadFormAsync throws InvalidDataException for a NUL in a value; that was a 500.
        var r = await browser.PostAsync(link.Path, Form(("csrf", Csrf(doc)), ("slot", SlotValues(doc)[0] + "\0")));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal("Please try again", (await HtmlAsync(r)).QuerySelector("h1")!.TextContent);
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select converted_booking_id from leads where id = $1", link.LeadId));
    }
}
