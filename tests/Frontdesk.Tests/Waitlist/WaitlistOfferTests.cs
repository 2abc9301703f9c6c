using System.Net;
using System.Net.Http.Json;
using Frontdesk.Tests.BookingPage;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Privacy;
using static Frontdesk.Tests.Manage.PatientScenario;
using static Frontdesk.Tests.Waitlist.WaitlistKit;

namespace Frontdesk.Tests.Waitlist;

/// <summary>A freed slot offered to the waitlist, held, claimed, lapsed and raced for (issue 18), with the fake Twilio.</summary>
[Collection("twilio")]
public class WaitlistOfferTests(TwilioFixture fx)
{
    /// <summary>A clinic whose slot <paramref name="slot"/> is booked by someone, and two patients
    /// waiting for Dr Test, the first one first.</summary>
    sealed record Scene(TestClinic Clinic, Guid BookingId, Guid SlotId, (Guid Id, string Phone) First, (Guid Id, string Phone) Second,
        Guid FirstEntry, Guid SecondEntry);

    async Task<Scene> SceneAsync(int slots = 6, int slot = 2)
    {
        var clinic = await BookingPageTests.ClinicAsync(slots);
        var (holder, _) = await PatientAsync(clinic, "Booked Already");
        var booking = await BookAsync(clinic, holder, clinic.SlotIds[slot]);
        // Every other slot taken too, so the only time that can come free is the booked one.
        foreach (var other in clinic.SlotIds.Where((_, i) => i != slot))
            await BookAsync(clinic, (await PatientAsync(clinic, "Filler")).Id, other);
        var first = await PatientAsync(clinic, "First Waiting");
        var second = await PatientAsync(clinic, "Second Waiting");
        using var staff = fx.As(clinic.Id, "receptionist");
        var e1 = await JoinAsync(staff, clinic.Id, new { patientId = first.Id, practitionerId = clinic.PractitionerId });
        var e2 = await JoinAsync(staff, clinic.Id, new { patientId = second.Id });
        return new Scene(clinic, booking, clinic.SlotIds[slot], first, second, e1, e2);
    }

    async Task CancelAsync(Scene s)
    {
        using var staff = fx.As(s.Clinic.Id, "receptionist");
        Assert.Equal(HttpStatusCode.NoContent, (await staff.DeleteAsync($"/api/bookings/{s.Clinic.Id}/{s.BookingId}")).StatusCode);
    }

    [Fact]
    public async Task A_cancelled_booking_offers_its_slot_by_SMS_to_the_first_matching_entry_with_a_link_that_holds_it()
    {
        var s = await SceneAsync();
        await CancelAsync(s);

        var offer = await OfferedAsync(s.Clinic.Id, s.FirstEntry);
        Assert.Equal(s.SlotId, offer.SlotId);
        Assert.Null(await OpenOfferAsync(s.Clinic.Id, s.SecondEntry));
        // Held for this offer for 30 minutes: nobody else can claim it meanwhile.
        Assert.Equal("waitlist:" + offer.Id, await TestApp.ScalarAsync<string>("select hold_holder from calendar_slots where id = $1", s.SlotId));
        var minutes = await TestApp.ScalarAsync<double>("select (extract(epoch from hold_expires_at - now()) / 60)::float8 from calendar_slots where id = $1", s.SlotId);
        Assert.InRange(minutes, 28.5, 30.01);
        using (var rival = TestApp.Service())
        {
            var r = await rival.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = s.SlotId, patientId = s.Second.Id, clinicId = s.Clinic.Id });
            Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        }

        var sms = await SmsAsync(fx.Fake, s.First.Phone, 1);
        Assert.Contains("has come free on", sms.Body);
        Assert.Contains("with Dr Test", sms.Body);
        Assert.Contains("holding it for you until", sms.Body);
        Assert.DoesNotContain("CANCEL", sms.Body);
        Assert.StartsWith("/waitlist/", ClaimPath(sms.Body));
        Assert.Equal("offer", await TestApp.ScalarAsync<string>("select purpose from sms_messages where id = (select message_id from waitlist_offers where id = $1)", offer.Id));
        Assert.Empty(fx.Fake.For(s.Second.Phone));

        using var staff = fx.As(s.Clinic.Id, "doctor");
        var list = await TestClinic.Json(await staff.GetAsync($"/api/clinics/{s.Clinic.Id}/waitlist"));
        var first = list.EnumerateArray().Single(e => e.GetProperty("id").GetGuid() == s.FirstEntry);
        Assert.Equal("offered", first.GetProperty("status").GetString());
        Assert.Equal(s.SlotId, first.GetProperty("offer").GetProperty("slotId").GetGuid());
        Assert.Equal("open", first.GetProperty("offer").GetProperty("status").GetString());
        Assert.Equal("waiting", list.EnumerateArray().Single(e => e.GetProperty("id").GetGuid() == s.SecondEntry).GetProperty("status").GetString());
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'offered' and entity = 'waitlist_offer' and entity_id = $2 and actor = 'waitlist'",
            s.Clinic.Id, offer.Id.ToString()));
    }

    [Fact]
    public async Task Claiming_the_offer_books_it_atomically_as_source_waitlist_closes_the_entry_and_texts_the_manage_link()
    {
        var s = await SceneAsync();
        await CancelAsync(s);
        var offer = await OfferedAsync(s.Clinic.Id, s.FirstEntry);
        var path = ClaimPath((await SmsAsync(fx.Fake, s.First.Phone, 1)).Body);

        using var browser = Browser(fx.App);
        var page = await browser.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("default-src 'none'", page.Headers.GetValues("Content-Security-Policy").Single());
        var doc = await HtmlAsync(page);
        Assert.Equal("A time has come up for you", doc.QuerySelector("h1")!.TextContent);
        Assert.Contains("holding this time for you until", doc.QuerySelector("[role=status]")!.TextContent);
        Assert.Contains("Dr Test", doc.QuerySelector("dl")!.TextContent);
        Assert.Equal(s.SlotId.ToString(), doc.QuerySelector("input[name=slot]")!.GetAttribute("value"));

        var post = await browser.PostAsync(path, Form(("csrf", Csrf(doc)), ("slot", s.SlotId.ToString())));
        Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
        Assert.Equal(path + "?booked=1", post.Headers.Location!.OriginalString);
        var booked = await HtmlAsync(await browser.GetAsync(post.Headers.Location!.OriginalString));
        Assert.Equal("You're booked", booked.QuerySelector("h1")!.TextContent);
        var manage = booked.QuerySelectorAll("a").Single(a => a.TextContent == "Manage your appointment").GetAttribute("href")!;
        Assert.StartsWith("/manage/", manage);

        var bookingId = await TestApp.ScalarAsync<Guid>("select id from bookings where slot_id = $1 and status = 'confirmed'", s.SlotId);
        Assert.Equal($"waitlist|{s.First.Id}", await TestApp.ScalarAsync<string>("select source || '|' || patient_id from bookings where id = $1", bookingId));
        Assert.Equal($"booked|{bookingId}", await TestApp.ScalarAsync<string>("select status || '|' || booking_id from waitlist_entries where id = $1", s.FirstEntry));
        Assert.Equal($"claimed|{bookingId}", await TestApp.ScalarAsync<string>("select status || '|' || booking_id from waitlist_offers where id = $1", offer.Id));
        Assert.Null(await TestApp.ScalarAsync<string>("select hold_holder from calendar_slots where id = $1", s.SlotId));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'created' and entity = 'booking' and detail->>'source' = 'waitlist'", s.Clinic.Id));

        var confirmation = await SmsAsync(fx.Fake, s.First.Phone, 2);
        Assert.Contains("you're booked", confirmation.Body);
        Assert.Contains("https://frontdesk.test" + manage, confirmation.Body);
        // The manage link in the text opens the new booking.
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(manage)).StatusCode);

        // A second tap, or a reload of the form, books nothing more.
        var again = await browser.PostAsync(path, Form(("csrf", Csrf(doc)), ("slot", s.SlotId.ToString())));
        Assert.Equal(HttpStatusCode.Redirect, again.StatusCode);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1 and source = 'waitlist'", s.Clinic.Id));
        Assert.Single(fx.Fake.For(s.First.Phone), m => m.Body.Contains("you're booked", StringComparison.Ordinal));

        // Cancelled later (here by the clinic): the claim link no longer says it is booked.
        using var staff = TestApp.As(s.Clinic.Id);
        Assert.True((await staff.DeleteAsync($"/api/bookings/{s.Clinic.Id}/{bookingId}")).IsSuccessStatusCode);
        var cancelled = await browser.GetAsync(path);
        Assert.Equal(HttpStatusCode.Gone, cancelled.StatusCode);
        Assert.Equal("This appointment was cancelled", (await HtmlAsync(cancelled)).QuerySelector("h1")!.TextContent);
    }

    [Fact]
    public async Task An_unclaimed_offer_lapses_when_its_hold_runs_out_and_the_next_entry_is_offered()
    {
        var s = await SceneAsync();
        await CancelAsync(s);
        var first = await OfferedAsync(s.Clinic.Id, s.FirstEntry);
        await SmsAsync(fx.Fake, s.First.Phone, 1);

        await LapseAsync(first);

        var second = await OfferedAsync(s.Clinic.Id, s.SecondEntry);
        Assert.Equal(s.SlotId, second.SlotId);
        Assert.Equal("lapsed", await TestApp.ScalarAsync<string>("select status from waitlist_offers where id = $1", first.Id));
        // The first patient waits on for other times, but is not offered this one again.
        Assert.Equal("waiting", await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", s.FirstEntry));
        Assert.Equal("waitlist:" + second.Id, await TestApp.ScalarAsync<string>("select hold_holder from calendar_slots where id = $1", s.SlotId));
        Assert.Contains("has come free", (await SmsAsync(fx.Fake, s.Second.Phone, 1)).Body);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'lapsed' and entity_id = $2", s.Clinic.Id, first.Id.ToString()));

        // When the second lapses too, nobody is left for this slot: it stays free for anyone.
        await LapseAsync(second);
        await EventuallyAsync(async () => await TestApp.ScalarAsync<string>("select status from waitlist_offers where id = $1", second.Id) == "lapsed",
            "the second offer's lapse");
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from waitlist_offers where clinic_id = $1 and status = 'open'", s.Clinic.Id));
        Assert.Single(fx.Fake.For(s.First.Phone));
    }

    [Fact]
    public async Task Two_people_racing_for_one_freed_slot_exactly_one_gets_it_and_the_other_is_shown_other_times()
    {
        var s = await SceneAsync(slots: 8);
        // Two times free up; the race is for the first, the second is the alternative on offer.
        await CancelAsync(s);
        var first = await OfferedAsync(s.Clinic.Id, s.FirstEntry);
        var firstPath = ClaimPath((await SmsAsync(fx.Fake, s.First.Phone, 1)).Body);
        await LapseAsync(first);
        await OfferedAsync(s.Clinic.Id, s.SecondEntry);
        var secondPath = ClaimPath((await SmsAsync(fx.Fake, s.Second.Phone, 1)).Body);
        var spare = s.Clinic.SlotIds[5];
        await FreeQuietlyAsync(spare);

        // The first patient comes back late and the second is on time: both press "Book" at once.
        using var late = Browser(fx.App);
        using var onTime = Browser(fx.App);
        var lateDoc = await HtmlAsync(await late.GetAsync(firstPath));
        var onTimeDoc = await HtmlAsync(await onTime.GetAsync(secondPath));
        Assert.True(lateDoc.QuerySelector("input[name=csrf]") is not null, "late page: " + lateDoc.Body!.TextContent);
        Assert.True(onTimeDoc.QuerySelector("input[name=csrf]") is not null, "on-time page: " + onTimeDoc.Body!.TextContent);
        var results = await Task.WhenAll(
            late.PostAsync(firstPath, Form(("csrf", Csrf(lateDoc)), ("slot", s.SlotId.ToString()))),
            onTime.PostAsync(secondPath, Form(("csrf", Csrf(onTimeDoc)), ("slot", s.SlotId.ToString()))));

        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from bookings where slot_id = $1 and status = 'confirmed'", s.SlotId));
        Assert.Single(results, r => r.StatusCode == HttpStatusCode.Redirect);
        var loser = Assert.Single(results, r => r.StatusCode == HttpStatusCode.Conflict);
        // The hold decides: the patient whose offer is open wins.
        Assert.Equal(HttpStatusCode.Redirect, results[1].StatusCode);
        Assert.Equal(s.Second.Id, await TestApp.ScalarAsync<Guid>("select patient_id from bookings where slot_id = $1 and status = 'confirmed'", s.SlotId));

        var taken = await HtmlAsync(loser);
        Assert.True(taken.QuerySelector("fieldset.times") is not null, "loser page: " + taken.Body!.TextContent);
        Assert.Equal("Sorry, this time has been taken", taken.QuerySelector("h1")!.TextContent);
        Assert.Equal("Nearest free times", taken.QuerySelector("fieldset.times > legend")!.TextContent);
        var alternatives = SlotValues(taken);
        Assert.Equal([spare], alternatives);

        // The loser takes the alternative through the same page.
        var ok = await late.PostAsync(firstPath, Form(("csrf", Csrf(taken)), ("slot", spare.ToString())));
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        Assert.Equal($"waitlist|{s.First.Id}", await TestApp.ScalarAsync<string>(
            "select source || '|' || patient_id from bookings where slot_id = $1 and status = 'confirmed'", spare));
        Assert.Equal("booked", await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", s.FirstEntry));
    }

    [Fact]
    public async Task When_no_hold_stands_two_claims_at_once_still_give_the_slot_to_exactly_one()
    {
        var s = await SceneAsync();
        await CancelAsync(s);
        var first = await OfferedAsync(s.Clinic.Id, s.FirstEntry);
        var firstPath = ClaimPath((await SmsAsync(fx.Fake, s.First.Phone, 1)).Body);
        await LapseAsync(first);
        var second = await OfferedAsync(s.Clinic.Id, s.SecondEntry);
        var secondPath = ClaimPath((await SmsAsync(fx.Fake, s.Second.Phone, 1)).Body);
        await LapseAsync(second);
        await EventuallyAsync(async () => await TestApp.ScalarAsync<string>("select status from waitlist_offers where id = $1", second.Id) == "lapsed",
            "the second lapse");

        using var a = Browser(fx.App);
        using var b = Browser(fx.App);
        var aDoc = await HtmlAsync(await a.GetAsync(firstPath));
        var bDoc = await HtmlAsync(await b.GetAsync(secondPath));
        Assert.Contains("still free", aDoc.Body!.TextContent);   // no hold promised any more
        var results = await Task.WhenAll(
            a.PostAsync(firstPath, Form(("csrf", Csrf(aDoc)), ("slot", s.SlotId.ToString()))),
            b.PostAsync(secondPath, Form(("csrf", Csrf(bDoc)), ("slot", s.SlotId.ToString()))));
        Assert.Single(results, r => r.StatusCode == HttpStatusCode.Redirect);
        Assert.Single(results, r => r.StatusCode == HttpStatusCode.Conflict);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from bookings where slot_id = $1 and status = 'confirmed'", s.SlotId));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from waitlist_entries where id = any($1) and status = 'booked'", new[] { s.FirstEntry, s.SecondEntry }));
    }

    [Fact]
    public async Task Removing_an_entry_withdraws_its_offer_releases_the_hold_and_offers_the_slot_to_the_next()
    {
        var s = await SceneAsync();
        await CancelAsync(s);
        var first = await OfferedAsync(s.Clinic.Id, s.FirstEntry);
        var path = ClaimPath((await SmsAsync(fx.Fake, s.First.Phone, 1)).Body);
        using var staff = fx.As(s.Clinic.Id, "receptionist");
        Assert.Equal(HttpStatusCode.NoContent, (await staff.DeleteAsync($"/api/clinics/{s.Clinic.Id}/waitlist/{s.FirstEntry}")).StatusCode);
        Assert.Equal("withdrawn", await TestApp.ScalarAsync<string>("select status from waitlist_offers where id = $1", first.Id));

        await OfferedAsync(s.Clinic.Id, s.SecondEntry);
        using var browser = Browser(fx.App);
        var r = await browser.GetAsync(path);
        Assert.Equal(HttpStatusCode.Gone, r.StatusCode);
        Assert.Equal("This link is no longer valid", (await HtmlAsync(r)).QuerySelector("h1")!.TextContent);
        var list = await TestClinic.Json(await staff.GetAsync($"/api/clinics/{s.Clinic.Id}/waitlist"));
        Assert.DoesNotContain(list.EnumerateArray(), e => e.GetProperty("id").GetGuid() == s.FirstEntry);
        Assert.Equal(HttpStatusCode.NotFound, (await staff.DeleteAsync($"/api/clinics/{s.Clinic.Id}/waitlist/{s.FirstEntry}")).StatusCode);
    }

    [Fact]
    public async Task Erasing_a_waiting_patient_deletes_their_entries_and_offer_releases_the_hold_and_their_link_names_nothing()
    {
        var s = await SceneAsync();
        await CancelAsync(s);
        var first = await OfferedAsync(s.Clinic.Id, s.FirstEntry);
        var path = ClaimPath((await SmsAsync(fx.Fake, s.First.Phone, 1)).Body);
        using var staff = fx.As(s.Clinic.Id);

        var export = await TestClinic.Json(await staff.GetAsync($"/api/patients/{s.Clinic.Id}/{s.First.Id}/export"));
        var exported = Assert.Single(export.GetProperty("waitlist").EnumerateArray());
        Assert.Equal(s.FirstEntry, exported.GetProperty("id").GetGuid());
        Assert.Equal("open", exported.GetProperty("offer").GetProperty("status").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await staff.DeleteAsync($"/api/patients/{s.Clinic.Id}/{s.First.Id}")).StatusCode);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from waitlist_entries where patient_id = $1", s.First.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from waitlist_offers where id = $1", first.Id));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select (detail->>'waitlistEntries')::bigint from audit_trail where clinic_id = $1 and action = 'erased' and entity_id = $2", s.Clinic.Id, s.First.Id.ToString()));

        await OfferedAsync(s.Clinic.Id, s.SecondEntry);   // the released slot goes to the next in line
        using var browser = Browser(fx.App);
        var r = await browser.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        var page = await HtmlAsync(r);
        Assert.Equal("This link is no longer valid", page.QuerySelector("h1")!.TextContent);
        Assert.Null(page.QuerySelector("dl"));
    }

    [Fact]
    public async Task Every_other_way_a_slot_frees_up_offers_it_a_move_a_lapsed_hold_and_a_cleared_calendar_block()
    {
        var clinic = await BookingPageTests.ClinicAsync(slots: 4);
        var (holder, _) = await PatientAsync(clinic, "Mover");
        var booking = await BookAsync(clinic, holder, clinic.SlotIds[0]);
        await BookAsync(clinic, (await PatientAsync(clinic, "Filler")).Id, clinic.SlotIds[1]);
        await TestApp.ExecAsync("update calendar_slots set busy = true where id = $1", clinic.SlotIds[3]);
        var waiting = await PatientAsync(clinic, "Waiting Patient");
        using var staff = fx.As(clinic.Id, "receptionist");
        var entry = await JoinAsync(staff, clinic.Id, new { patientId = waiting.Id });

        // A hold by a caller that runs out unclaimed: the slot is offered when it lapses.
        using (var svc = TestApp.Service())
            await TestClinic.Json(await svc.PostAsJsonAsync("/functions/v1/hold_slot", new { slotId = clinic.SlotIds[2], clinicId = clinic.Id, holder = "call-1", ttlSeconds = 300 }));
        Assert.Null(await OpenOfferAsync(clinic.Id, entry));
        await LapseAsync(new Offer(Guid.Empty, entry, clinic.SlotIds[2], default));
        var held = await OfferedAsync(clinic.Id, entry);
        Assert.Equal(clinic.SlotIds[2], held.SlotId);
        using (var remove = fx.As(clinic.Id, "receptionist"))
            await remove.DeleteAsync($"/api/clinics/{clinic.Id}/waitlist/{entry}");

        // A move away from a slot frees it.
        var entry2 = await JoinAsync(staff, clinic.Id, new { patientId = waiting.Id, partOfDay = "morning" });
        await TestClinic.Json(await staff.PutAsJsonAsync($"/api/bookings/{clinic.Id}/{booking}", new { slotId = clinic.SlotIds[2] }));
        Assert.Equal(clinic.SlotIds[0], (await OfferedAsync(clinic.Id, entry2)).SlotId);
        await staff.DeleteAsync($"/api/clinics/{clinic.Id}/waitlist/{entry2}");

        // The calendar sync clearing a busy block frees the slot too.
        var entry3 = await JoinAsync(staff, clinic.Id, new { patientId = waiting.Id, practitionerId = clinic.PractitionerId });
        await TestApp.ExecAsync("update calendar_slots set busy = false where id = $1", clinic.SlotIds[3]);
        Assert.Equal(clinic.SlotIds[3], (await OfferedAsync(clinic.Id, entry3)).SlotId);
    }

    [Fact]
    public async Task Offers_follow_the_entrys_practitioner_window_and_part_of_day_and_skip_numbers_that_opted_out()
    {
        var clinic = await BookingPageTests.ClinicAsync(slots: 2);
        var (holder, _) = await PatientAsync(clinic, "Holder");
        var booking = await BookAsync(clinic, holder, clinic.SlotIds[0]);
        await BookAsync(clinic, (await PatientAsync(clinic, "Filler")).Id, clinic.SlotIds[1]);
        var (start, _) = await Calendar.CalendarTestHost.SlotTimesAsync(clinic.SlotIds[0]);   // 09:00 UTC on a weekday, 09:00 or 10:00 in London
        using var svc = TestApp.Service();
        var otherDoctor = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinic.Id}/practitioners", new { name = "Dr Other" }))).GetProperty("id").GetGuid();
        using var staff = fx.As(clinic.Id, "receptionist");
        var day = start.ToOffset(TimeSpan.Zero).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var dayAfter = start.AddDays(1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

        var wrongDoctor = await JoinAsync(staff, clinic.Id, new { patientId = (await PatientAsync(clinic, "A")).Id, practitionerId = otherDoctor });
        var wrongDay = await JoinAsync(staff, clinic.Id, new { patientId = (await PatientAsync(clinic, "B")).Id, from = dayAfter });
        var wrongPart = await JoinAsync(staff, clinic.Id, new { patientId = (await PatientAsync(clinic, "C")).Id, partOfDay = "afternoon" });
        var optedOut = await PatientAsync(clinic, "D");
        var quiet = await JoinAsync(staff, clinic.Id, new { patientId = optedOut.Id });
        await CallerHashes.OptOutAsync(clinic.Id, optedOut.Phone);
        var match = await JoinAsync(staff, clinic.Id, new { patientId = (await PatientAsync(clinic, "E")).Id, from = day, to = day, partOfDay = "morning" });

        using (var admin = fx.As(clinic.Id))
            await admin.DeleteAsync($"/api/bookings/{clinic.Id}/{booking}");
        Assert.Equal(clinic.SlotIds[0], (await OfferedAsync(clinic.Id, match)).SlotId);
        foreach (var other in new[] { wrongDoctor, wrongDay, wrongPart, quiet })
            Assert.Null(await OpenOfferAsync(clinic.Id, other));
        Assert.Empty(fx.Fake.For(optedOut.Phone));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from waitlist_offers where entry_id = any($1)", new[] { wrongDoctor, wrongDay, wrongPart, quiet }));
    }

    [Fact]
    public async Task In_the_clinics_quiet_hours_the_offer_waits_for_the_morning()
    {
        var s = await SceneAsync();
        // Quiet all day but one minute: now is inside it.
        var now = TimeOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTime.UtcNow, TimeZoneInfo.FindSystemTimeZoneById("Europe/London")));
        await TestApp.ExecAsync("update clinics set quiet_start = $1, quiet_end = $2 where id = $3",
            now.AddMinutes(-5), now.AddMinutes(-6), s.Clinic.Id);
        await CancelAsync(s);

        var deferred = await EventuallyAsync(() => TestApp.ScalarAsync<string>("""
            select last_error from outbox where clinic_id = $1 and kind = 'waitlist_slot' and status = 'pending' and last_error = 'quiet hours'
            """, s.Clinic.Id), "the offer deferred for quiet hours");
        Assert.Equal("quiet hours", deferred);
        Assert.True(await TestApp.ScalarAsync<bool>(
            "select next_attempt_at > now() + interval '23 hours' from outbox where clinic_id = $1 and kind = 'waitlist_slot' and last_error = 'quiet hours'", s.Clinic.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from waitlist_offers where clinic_id = $1", s.Clinic.Id));
        Assert.Null(await TestApp.ScalarAsync<string>("select hold_holder from calendar_slots where id = $1", s.SlotId));

        // Morning comes: the offer is made.
        await TestApp.ExecAsync("update clinics set quiet_start = null, quiet_end = null where id = $1", s.Clinic.Id);
        await TestApp.ExecAsync("update outbox set next_attempt_at = now() where clinic_id = $1 and kind = 'waitlist_slot' and status = 'pending'", s.Clinic.Id);
        await OfferedAsync(s.Clinic.Id, s.FirstEntry);
    }

    [Fact]
    public async Task With_the_clinics_SMS_quota_used_up_a_freed_slot_is_held_for_nobody_kept_as_a_failed_text_and_offered_when_the_quota_returns()
    {
        var s = await SceneAsync();
        await TestApp.ExecAsync("update clinics set sms_daily_quota = 0 where id = $1", s.Clinic.Id);
        await CancelAsync(s);

        var deferred = await EventuallyAsync(() => TestApp.ScalarAsync<string>("""
            select last_error from outbox where clinic_id = $1 and kind = 'waitlist_slot' and status = 'pending' and last_error = 'SMS quota used up'
            """, s.Clinic.Id), "the look at the slot deferred for the quota");
        Assert.Equal("SMS quota used up", deferred);
        Assert.True(await TestApp.ScalarAsync<bool>(
            "select next_attempt_at > now() from outbox where clinic_id = $1 and kind = 'waitlist_slot' and last_error = 'SMS quota used up'", s.Clinic.Id));
        // Nobody is offered the slot, nor is it held, and the refused text is kept where a person sees it.
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from waitlist_offers where clinic_id = $1", s.Clinic.Id));
        Assert.Null(await TestApp.ScalarAsync<string>("select hold_holder from calendar_slots where id = $1", s.SlotId));
        Assert.Equal("waiting", await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", s.FirstEntry));
        Assert.StartsWith("refused: The clinic's daily quota of 0 SMS is used up", await TestApp.ScalarAsync<string>(
            "select error_message from sms_messages where clinic_id = $1 and purpose = 'offer' and status = 'failed'", s.Clinic.Id));
        Assert.Empty(fx.Fake.For(s.First.Phone));

        // The next day's quota: the same look at the slot makes the offer.
        await TestApp.ExecAsync("update clinics set sms_daily_quota = 500 where id = $1", s.Clinic.Id);
        await TestApp.ExecAsync("update outbox set next_attempt_at = now() where clinic_id = $1 and kind = 'waitlist_slot' and status = 'pending'", s.Clinic.Id);
        var offer = await OfferedAsync(s.Clinic.Id, s.FirstEntry, 60);
        Assert.Equal(s.SlotId, offer.SlotId);
        Assert.Contains("has come free on", (await SmsAsync(fx.Fake, s.First.Phone, 1)).Body);
    }

    [Fact]
    public async Task An_entry_whose_number_is_in_a_country_the_clinic_does_not_text_is_passed_over_for_the_next_one()
    {
        var s = await SceneAsync();
        // A number of its own: the fake keeps every text by number, and other tests text French numbers too.
        var french = "+3361" + Random.Shared.Next(1000000, 9999999).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await TestApp.ExecAsync("update clinics set sms_allowed_countries = '{GB}' where id = $1", s.Clinic.Id);
        await TestApp.ExecAsync("update patients set phone = $1 where id = $2", french, s.First.Id);
        await CancelAsync(s);

        var offer = await OfferedAsync(s.Clinic.Id, s.SecondEntry, 60);
        Assert.Equal(s.SlotId, offer.SlotId);
        Assert.Null(await OpenOfferAsync(s.Clinic.Id, s.FirstEntry));
        Assert.Equal("waiting", await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", s.FirstEntry));
        // The text to the first entry was refused and kept as failed, with the reason; the second one's went.
        Assert.StartsWith("refused: Messages to FR are not allowed", await TestApp.ScalarAsync<string>(
            "select error_message from sms_messages where clinic_id = $1 and purpose = 'offer' and status = 'failed'", s.Clinic.Id));
        Assert.Contains("has come free on", (await SmsAsync(fx.Fake, s.Second.Phone, 1)).Body);
        Assert.Empty(fx.Fake.For(french));
    }

    [Fact]
    public async Task A_claim_link_whose_time_has_passed_is_a_410_page_and_a_claim_on_it_books_nothing()
    {
        var s = await SceneAsync();
        await CancelAsync(s);
        await OfferedAsync(s.Clinic.Id, s.FirstEntry);
        var path = ClaimPath((await SmsAsync(fx.Fake, s.First.Phone, 1)).Body);
        using var browser = Browser(fx.App);
        var open = await HtmlAsync(await browser.GetAsync(path));
        var csrf = Csrf(open);

        // The appointment time goes by while the text sits unread (moved back behind the triggers' backs).
        await using (var c = await TestApp.AdminConnectionAsync())
        await using (var tx = await c.BeginTransactionAsync())
        {
            foreach (var sql in new[]
                     {
                         "set local session_replication_role = replica",
                         "update calendar_slots set starts_at = now() - interval '2 hours', ends_at = now() - interval '90 minutes' where id = $1",
                     })
            {
                await using var cmd = new Npgsql.NpgsqlCommand(sql, c, tx);
                if (sql.Contains("$1", StringComparison.Ordinal)) cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = s.SlotId });
                await cmd.ExecuteNonQueryAsync();
            }
            await tx.CommitAsync();
        }

        var page = await browser.GetAsync(path);
        Assert.Equal(HttpStatusCode.Gone, page.StatusCode);
        var doc = await HtmlAsync(page);
        Assert.Equal("This link is no longer valid", doc.QuerySelector("h1")!.TextContent);
        Assert.Contains("The time it offered has passed.", doc.Body!.TextContent);
        Assert.Null(doc.QuerySelector("form"));

        var claim = await browser.PostAsync(path, Form(("csrf", csrf), ("slot", s.SlotId.ToString())));
        Assert.Equal(HttpStatusCode.Gone, claim.StatusCode);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1 and source = 'waitlist'", s.Clinic.Id));
        Assert.Single(fx.Fake.For(s.First.Phone));
    }

    [Fact]
    public async Task Claim_links_that_are_not_ours_and_bad_claim_forms_get_4xx_pages_and_book_nothing()
    {
        var s = await SceneAsync();
        await CancelAsync(s);
        await OfferedAsync(s.Clinic.Id, s.FirstEntry);
        var path = ClaimPath((await SmsAsync(fx.Fake, s.First.Phone, 1)).Body);
        var token = path["/waitlist/".Length..];
        using var browser = Browser(fx.App);
        var csrf = Csrf(await HtmlAsync(await browser.GetAsync(path)));

        foreach (var bad in new[] { (token[0] == 'A' ? 'B' : 'A') + token[1..], token[..10], "nope" })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync("/waitlist/" + bad)).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await browser.PostAsync("/waitlist/" + bad, Form(("csrf", csrf), ("slot", s.SlotId.ToString())))).StatusCode);
        }
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.PostAsync(path, Form(("slot", s.SlotId.ToString())))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.PostAsync(path, Form(("csrf", "forged"), ("slot", s.SlotId.ToString())))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.PostAsync(path, Form(("csrf", csrf), ("slot", "x\0")))).StatusCode);
        var noSlot = await browser.PostAsync(path, Form(("csrf", csrf)));
        Assert.Equal(HttpStatusCode.BadRequest, noSlot.StatusCode);
        Assert.Equal("Please choose a time first.", (await HtmlAsync(noSlot)).QuerySelector("[role=alert]")!.TextContent);
        // Another clinic's slot, or a slot unlike the offered one, is not on offer.
        var foreign = await TestClinic.CreateAsync(slots: 1, patients: 0);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.PostAsync(path, Form(("csrf", csrf), ("slot", foreign.SlotIds[0].ToString())))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.PostAsync(path, Form(("csrf", csrf), ("slot", Guid.NewGuid().ToString())))).StatusCode);
        using var stranger = Browser(fx.App);
        Assert.Equal(HttpStatusCode.BadRequest, (await stranger.PostAsync(path, Form(("csrf", csrf), ("slot", s.SlotId.ToString())))).StatusCode);

        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1 and source = 'waitlist'", s.Clinic.Id));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", foreign.SlotIds[0]));
        Assert.Equal("offered", await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", s.FirstEntry));
    }
}
