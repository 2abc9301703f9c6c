using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Tests.BookingPage;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using static Frontdesk.Tests.Calls.ProcedurePractitionerTests;
using static Frontdesk.Tests.Calls.VapiPayloads;
using static Frontdesk.Tests.Manage.PatientScenario;
using static Frontdesk.Tests.Waitlist.WaitlistKit;

namespace Frontdesk.Tests.Waitlist;

/// <summary>
/// The waitlist keeps to issue 17's procedure rules as voice booking does: offers, claims and joining
/// only pair a procedure with slots of the practitioners who consult for it, long enough; a procedure
/// nobody consults for is said so and nothing is stored; a claimed booking records its procedure.
/// </summary>
[Collection("twilio")]
public class WaitlistProcedureTests(TwilioFixture fx)
{
    static readonly string[] NoseSynonyms = ["nose job"];
    static readonly string[] FaceSynonyms = ["face lift"];
    static readonly string[] BreastSynonyms = ["boob job"];

    /// <summary>Dr Test's 30-minute slots all booked (the one at <paramref name="slot"/> by "Booked Already"),
    /// and Dr Other with two free 30-minute slots the day after.</summary>
    sealed record Scene(TestClinic Clinic, Guid BookingId, Guid SlotId, Guid Other, Guid[] OtherSlots);

    static async Task<Scene> SceneAsync(int slots = 4, int slot = 1)
    {
        var clinic = await BookingPageTests.ClinicAsync(slots);
        var (start, _) = await Calendar.CalendarTestHost.SlotTimesAsync(clinic.SlotIds[0]);
        var (other, otherSlots) = await PractitionerAsync(clinic.Id, "Dr Other", start.AddDays(1), 30, 2);
        var (holder, _) = await PatientAsync(clinic, "Booked Already");
        var booking = await BookAsync(clinic, holder, clinic.SlotIds[slot]);
        foreach (var s in clinic.SlotIds.Where((_, i) => i != slot))
            await BookAsync(clinic, (await PatientAsync(clinic, "Filler")).Id, s);
        return new Scene(clinic, booking, clinic.SlotIds[slot], other, otherSlots);
    }

    async Task CancelAsync(Scene s)
    {
        using var staff = fx.As(s.Clinic.Id, "receptionist");
        Assert.Equal(HttpStatusCode.NoContent, (await staff.DeleteAsync($"/api/bookings/{s.Clinic.Id}/{s.BookingId}")).StatusCode);
    }

    [Fact]
    public async Task A_freed_slot_is_offered_only_to_entries_whose_procedure_its_practitioner_consults_for_with_enough_length()
    {
        var s = await SceneAsync();
        using var admin = fx.As(s.Clinic.Id);
        // Rhinoplasty: only Dr Other consults. Facelift: 60 minutes (Dr Test's slots are 30). Breast Augmentation: Dr Test.
        await PutProcedureAsync(admin, s.Clinic.Id, "Rhinoplasty", new { synonyms = NoseSynonyms, practitionerIds = new[] { s.Other } });
        await PutProcedureAsync(admin, s.Clinic.Id, "Facelift", new { synonyms = FaceSynonyms, consultationMinutes = 60 });
        await PutProcedureAsync(admin, s.Clinic.Id, "Breast Augmentation",
            new { synonyms = BreastSynonyms, consultationMinutes = 30, practitionerIds = new[] { s.Clinic.PractitionerId } });
        using var staff = fx.As(s.Clinic.Id, "receptionist");
        // First come first served: the two that do not fit joined first.
        var nose = await JoinAsync(staff, s.Clinic.Id, new { patientId = (await PatientAsync(s.Clinic, "Nose First")).Id, procedure = "Rhinoplasty" });
        var face = await JoinAsync(staff, s.Clinic.Id, new { patientId = (await PatientAsync(s.Clinic, "Face Second")).Id, procedure = "Facelift" });
        var breast = await PatientAsync(s.Clinic, "Breast Third");
        var fits = await JoinAsync(staff, s.Clinic.Id, new { patientId = breast.Id, procedure = "boob job" });

        await CancelAsync(s);

        Assert.Equal(s.SlotId, (await OfferedAsync(s.Clinic.Id, fits)).SlotId);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from waitlist_offers where entry_id = any($1)", new[] { nose, face }));
        Assert.Contains("a Breast Augmentation consultation has come free", (await SmsAsync(fx.Fake, breast.Phone, 1)).Body);
    }

    [Fact]
    public async Task A_claim_books_only_times_that_fit_the_entrys_procedure_and_records_the_procedure_on_the_booking()
    {
        var s = await SceneAsync();
        using var admin = fx.As(s.Clinic.Id);
        await PutProcedureAsync(admin, s.Clinic.Id, "Breast Augmentation",
            new { synonyms = BreastSynonyms, practitionerIds = new[] { s.Clinic.PractitionerId } });
        using var staff = fx.As(s.Clinic.Id, "receptionist");
        var patient = await PatientAsync(s.Clinic, "Breast Waiting");
        var entry = await JoinAsync(staff, s.Clinic.Id, new { patientId = patient.Id, procedure = "Breast Augmentation" });
        await CancelAsync(s);
        await OfferedAsync(s.Clinic.Id, entry);
        var path = ClaimPath((await SmsAsync(fx.Fake, patient.Phone, 1)).Body);
        using var browser = Browser(fx.App);
        var doc = await HtmlAsync(await browser.GetAsync(path));
        Assert.Contains("Breast Augmentation", doc.QuerySelector("dl")!.TextContent);

        // Dr Other's free time is as long as the offered one, but Dr Other does not consult for the procedure.
        var wrong = await browser.PostAsync(path, Form(("csrf", Csrf(doc)), ("slot", s.OtherSlots[0].ToString())));
        Assert.Equal(HttpStatusCode.NotFound, wrong.StatusCode);
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", s.OtherSlots[0]));
        Assert.Equal("offered", await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", entry));

        var ok = await browser.PostAsync(path, Form(("csrf", Csrf(doc)), ("slot", s.SlotId.ToString())));
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        Assert.Equal("waitlist|Breast Augmentation", await TestApp.ScalarAsync<string>("""
            select b.source || '|' || cp.name from bookings b join clinic_procedures cp on cp.clinic_id = b.clinic_id and cp.id = b.procedure_id
            where b.slot_id = $1 and b.status = 'confirmed'
            """, s.SlotId));
    }

    [Fact]
    public async Task A_taken_offer_shows_only_alternatives_that_fit_the_entrys_procedure()
    {
        var s = await SceneAsync();
        using var admin = fx.As(s.Clinic.Id);
        await PutProcedureAsync(admin, s.Clinic.Id, "Rhinoplasty", new { synonyms = NoseSynonyms, practitionerIds = new[] { s.Clinic.PractitionerId } });
        using var staff = fx.As(s.Clinic.Id, "receptionist");
        var patient = await PatientAsync(s.Clinic, "Nose Waiting");
        var entry = await JoinAsync(staff, s.Clinic.Id, new { patientId = patient.Id, procedure = "nose job" });
        await CancelAsync(s);
        var offer = await OfferedAsync(s.Clinic.Id, entry);
        var path = ClaimPath((await SmsAsync(fx.Fake, patient.Phone, 1)).Body);
        await LapseAsync(offer);
        await EventuallyAsync(async () => await TestApp.ScalarAsync<string>("select status from waitlist_offers where id = $1", offer.Id) == "lapsed",
            "the lapse");
        // Someone else takes the offered time; one of Dr Test's times frees up quietly beside Dr Other's.
        await BookAsync(s.Clinic, (await PatientAsync(s.Clinic, "Quicker")).Id, s.SlotId);
        var spare = s.Clinic.SlotIds[3];
        await FreeQuietlyAsync(spare);

        using var browser = Browser(fx.App);
        var taken = await HtmlAsync(await browser.GetAsync(path));
        Assert.Equal("Sorry, this time has been taken", taken.QuerySelector("h1")!.TextContent);
        Assert.Equal([spare], SlotValues(taken));
    }

    /// <summary>A patient waiting for Dr Test is offered the cancelled time (the text's link is kept), lets the
    /// offer lapse, and waits again.</summary>
    async Task<(Scene Scene, Guid PatientId, Guid Entry, string OldPath)> FirstOfferLapsedAsync()
    {
        var s = await SceneAsync(slots: 4, slot: 1);
        using var staff = fx.As(s.Clinic.Id, "receptionist");
        var patient = await PatientAsync(s.Clinic, "Waiting Long");
        var entry = await JoinAsync(staff, s.Clinic.Id, new { patientId = patient.Id, practitionerId = s.Clinic.PractitionerId });
        await CancelAsync(s);
        var first = await OfferedAsync(s.Clinic.Id, entry);
        var oldPath = ClaimPath((await SmsAsync(fx.Fake, patient.Phone, 1)).Body);
        await LapseAsync(first);
        await EventuallyAsync(async () => await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", entry) == "waiting",
            "the first offer's lapse");
        return (s, patient.Id, entry, oldPath);
    }

    [Fact]
    public async Task A_claim_through_an_old_offer_link_withdraws_the_entrys_newer_offer_and_releases_its_hold()
    {
        var (s, _, entry, oldPath) = await FirstOfferLapsedAsync();
        using var staff = fx.As(s.Clinic.Id, "receptionist");

        // Another of Dr Test's bookings is cancelled: the entry gets a second offer, held for it.
        var otherBooking = await TestApp.ScalarAsync<Guid>("select id from bookings where slot_id = $1 and status = 'confirmed'", s.Clinic.SlotIds[2]);
        Assert.Equal(HttpStatusCode.NoContent, (await staff.DeleteAsync($"/api/bookings/{s.Clinic.Id}/{otherBooking}")).StatusCode);
        var second = await OfferedAsync(s.Clinic.Id, entry);
        Assert.Equal(s.Clinic.SlotIds[2], second.SlotId);
        Assert.Equal("waitlist:" + second.Id, await TestApp.ScalarAsync<string>("select hold_holder from calendar_slots where id = $1", second.SlotId));

        // The patient uses the first text's link instead: the first time is still free, and is booked.
        using var browser = Browser(fx.App);
        var doc = await HtmlAsync(await browser.GetAsync(oldPath));
        var ok = await browser.PostAsync(oldPath, Form(("csrf", Csrf(doc)), ("slot", s.SlotId.ToString())));
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        Assert.Equal("booked", await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", entry));

        // The newer offer no longer holds its slot for someone who is booked.
        Assert.Equal("withdrawn", await TestApp.ScalarAsync<string>("select status from waitlist_offers where id = $1", second.Id));
        Assert.Null(await TestApp.ScalarAsync<string>("select hold_holder from calendar_slots where id = $1", second.SlotId));
        Assert.Null(await OpenOfferAsync(s.Clinic.Id, entry));
    }

    [Fact]
    public async Task Through_an_old_offer_link_the_time_a_newer_offer_holds_for_the_same_entry_can_be_booked_under_that_hold()
    {
        var (s, patientId, entry, oldPath) = await FirstOfferLapsedAsync();
        using var staff = fx.As(s.Clinic.Id, "receptionist");
        // The first time goes to someone else; another frees up and is offered (and held) for the entry.
        await BookAsync(s.Clinic, (await PatientAsync(s.Clinic, "Quicker")).Id, s.SlotId);
        var otherBooking = await TestApp.ScalarAsync<Guid>("select id from bookings where slot_id = $1 and status = 'confirmed'", s.Clinic.SlotIds[2]);
        Assert.Equal(HttpStatusCode.NoContent, (await staff.DeleteAsync($"/api/bookings/{s.Clinic.Id}/{otherBooking}")).StatusCode);
        var second = await OfferedAsync(s.Clinic.Id, entry);

        using var browser = Browser(fx.App);
        var doc = await HtmlAsync(await browser.GetAsync(oldPath));
        Assert.Equal("Sorry, this time has been taken", doc.QuerySelector("h1")!.TextContent);
        Assert.Equal([second.SlotId], SlotValues(doc));   // the time held for the same entry is the patient's to take
        var ok = await browser.PostAsync(oldPath, Form(("csrf", Csrf(doc)), ("slot", second.SlotId.ToString())));
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        var bookingId = await TestApp.ScalarAsync<Guid>("select id from bookings where slot_id = $1 and status = 'confirmed'", second.SlotId);
        Assert.Equal(patientId, await TestApp.ScalarAsync<Guid>("select patient_id from bookings where id = $1", bookingId));
        Assert.Equal($"claimed|{bookingId}", await TestApp.ScalarAsync<string>("select status || '|' || booking_id from waitlist_offers where id = $1", second.Id));
        Assert.Equal($"booked|{bookingId}", await TestApp.ScalarAsync<string>("select status || '|' || booking_id from waitlist_entries where id = $1", entry));
    }

    [Fact]
    public async Task An_offered_time_that_no_longer_fits_the_procedure_is_not_booked_and_fitting_times_are_shown_instead()
    {
        var s = await SceneAsync();
        using var staff = fx.As(s.Clinic.Id, "receptionist");
        var patient = await PatientAsync(s.Clinic, "Nose Waiting");
        var entry = await JoinAsync(staff, s.Clinic.Id, new { patientId = patient.Id, procedure = "Rhinoplasty" });
        await CancelAsync(s);
        await OfferedAsync(s.Clinic.Id, entry);
        var path = ClaimPath((await SmsAsync(fx.Fake, patient.Phone, 1)).Body);
        using var browser = Browser(fx.App);
        var csrf = Csrf(await HtmlAsync(await browser.GetAsync(path)));

        // Meanwhile the clinic decides only Dr Other consults for Rhinoplasty.
        using (var admin = fx.As(s.Clinic.Id))
            await PutProcedureAsync(admin, s.Clinic.Id, "Rhinoplasty", new { synonyms = NoseSynonyms, practitionerIds = new[] { s.Other } });

        var page = await HtmlAsync(await browser.GetAsync(path));
        Assert.Equal("Sorry, this time has been taken", page.QuerySelector("h1")!.TextContent);
        Assert.Equal(s.OtherSlots.Order(), SlotValues(page).Order());
        var refused = await browser.PostAsync(path, Form(("csrf", csrf), ("slot", s.SlotId.ToString())));
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", s.SlotId));
        Assert.Equal("offered", await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", entry));
    }

    // --- joining ---------------------------------------------------------------------------------

    async Task<(string Text, bool Error)> ToolAsync(string secret, string phone, object args)
    {
        using var client = fx.App.CreateClient();
        client.DefaultRequestHeaders.Add("X-Vapi-Secret", secret);
        var r = await client.PostAsJsonAsync("/vapi/webhook", ToolCall(NewCall(), phone, "t1", "join_waitlist", args));
        return Result(JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement);
    }

    [Fact]
    public async Task Joining_for_a_procedure_nobody_consults_for_is_said_so_by_voice_and_refused_by_the_api_and_nothing_is_stored()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 1);
        var name = await TestApp.ScalarAsync<string>("select name from clinics where id = $1", clinic.Id);
        using var admin = fx.As(clinic.Id);
        await PutProcedureAsync(admin, clinic.Id, "Facelift", new { synonyms = FaceSynonyms, practitionerIds = Array.Empty<Guid>() });

        var (text, error) = await ToolAsync(secret, TwilioFixture.NewPhone(), new { procedure = "face lift" });
        Assert.True(error, text);
        Assert.Contains($"Nobody at {name} does Facelift consultations at the moment", text);

        var (patient, _) = await PatientAsync(clinic, "Staff Added");
        using var staff = fx.As(clinic.Id, "receptionist");
        var r = await staff.PostAsJsonAsync($"/api/clinics/{clinic.Id}/waitlist", new { patientId = patient, procedure = "Facelift" });
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        var problem = await r.Content.ReadFromJsonAsync<JsonElement>();
        Assert.EndsWith("/conflict", problem.GetProperty("type").GetString());
        Assert.Contains("Nobody", problem.GetProperty("detail").GetString());

        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from waitlist_entries where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task Joining_for_a_named_practitioner_who_does_not_consult_for_the_procedure_is_said_so_and_nothing_is_stored()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 1);
        using var svc = TestApp.Service();
        var other = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinic.Id}/practitioners", new { name = "Dr Other" }))).GetProperty("id").GetGuid();
        using var admin = fx.As(clinic.Id);
        await PutProcedureAsync(admin, clinic.Id, "Rhinoplasty", new { synonyms = NoseSynonyms, practitionerIds = new[] { other } });

        var (text, error) = await ToolAsync(secret, TwilioFixture.NewPhone(), new { procedure = "nose job", practitioner = "Test" });
        Assert.True(error, text);
        Assert.Contains("Dr Test doesn't do Rhinoplasty consultations", text);

        var (patient, _) = await PatientAsync(clinic, "Staff Added");
        using var staff = fx.As(clinic.Id, "receptionist");
        var r = await staff.PostAsJsonAsync($"/api/clinics/{clinic.Id}/waitlist",
            new { patientId = patient, procedure = "Rhinoplasty", practitionerId = clinic.PractitionerId });
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        Assert.Contains("does not consult for Rhinoplasty", (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from waitlist_entries where clinic_id = $1", clinic.Id));

        // With the practitioner who does, the caller is on the list.
        var (joined, failed) = await ToolAsync(secret, TwilioFixture.NewPhone(), new { procedure = "nose job", practitioner = "Other" });
        Assert.False(failed, joined);
        Assert.StartsWith("You're on the waiting list for a Rhinoplasty consultation with Dr Other", joined);
    }
}
