using System.Net;
using System.Net.Http.Json;
using Frontdesk.Platform;
using Frontdesk.StaffConsole;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.StaffConsole;

/// <summary>The console's pages against the in-process server and the test cluster: what they show,
/// what their forms do, who may, and that a second clinic's staff see none of it.</summary>
public class ConsolePagesTests
{
    static async Task<(TestClinic Clinic, string Secret)> ClinicWithSecretAsync(int slots = 4, int patients = 1)
    {
        var clinic = await TestClinic.CreateAsync(slots: slots, patients: patients);
        var secret = "vapi-" + Guid.NewGuid().ToString("N");
        await TestApp.ExecAsync("update clinics set vapi_secret = $1 where id = $2", secret, clinic.Id);
        return (clinic, secret);
    }

    [Fact]
    public async Task Today_shows_a_call_from_the_Vapi_webhook_with_first_name_outcome_procedure_and_a_sanitized_summary()
    {
        var (clinic, secret) = await ClinicWithSecretAsync();
        var phone = "+44790" + Random.Shared.Next(1000000, 9999999);
        using var api = TestApp.Client(null);
        var report = ConsoleClient.EndOfCallReport("call-" + Guid.NewGuid().ToString("N"), phone, ConsoleClient.EarlierToday(TimeSpan.FromMinutes(2)),
            "AI: Hello.\nUser: Hi, I'm Jane Doe, I'd like to ask about rhinoplasty. Oh I have to go, bye.",
            summary: "Jane Doe (call back on " + phone + ") asked about rhinoplasty prices and hung up.");
        Assert.Equal(HttpStatusCode.OK, (await ConsoleClient.PostVapiAsync(api, secret, report)).StatusCode);

        var (client, _) = await ConsoleClient.SignedInAsync(clinic.Id, "receptionist");
        using var _c = client;
        var today = await client.GetAsync(ConsoleRoutes.Today);
        Assert.Equal(HttpStatusCode.OK, today.Status);
        Assert.Equal("Today", today.H1);
        var call = Assert.Single(today.Document.QuerySelectorAll("section[aria-labelledby=calls-h] li"));
        Assert.Contains("Hung up · follow-up sent", call.TextContent);
        Assert.Contains("Rhinoplasty", call.TextContent);
        // The summary is on screen without the number it contained.
        Assert.Contains("asked about rhinoplasty prices", call.TextContent);
        Assert.DoesNotContain(phone[^7..], call.TextContent);
        // The follow-up is listed with its delivery state (queued: Twilio is not configured here).
        var followUp = Assert.Single(today.Document.QuerySelectorAll("section[aria-labelledby=fu-h] tbody tr"));
        Assert.Contains("Rhinoplasty", followUp.TextContent);
        Assert.Contains("Queued", followUp.TextContent);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'console_viewed' and entity_id = 'today'", clinic.Id));

        // Another day shows none of it; a second clinic's staff never see it.
        var yesterday = await client.GetAsync(ConsoleRoutes.Today + "?day=" + DateTime.UtcNow.AddDays(-3).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("No calls on this day.", yesterday.Text);
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (stranger, _) = await ConsoleClient.SignedInAsync(other.Id, "admin");
        using var _s = stranger;
        Assert.Contains("No calls on this day.", (await stranger.GetAsync(ConsoleRoutes.Today)).Text);
    }

    [Fact]
    public async Task Patient_search_and_page_show_bookings_messages_calls_and_consent_and_are_audited()
    {
        var (clinic, secret) = await ClinicWithSecretAsync();
        var patientId = clinic.PatientIds[0];
        var phone = await TestApp.ScalarAsync<string>("select phone from patients where id = $1", patientId);
        await TestApp.ExecAsync("update patients set name = 'Grace Hopper' where id = $1", patientId);
        using (var api = TestApp.As(clinic.Id))
            Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync("/functions/v1/claim_slot_atomic",
                new { slotId = clinic.SlotIds[0], patientId, clinicId = clinic.Id })).StatusCode);
        using (var anon = TestApp.Client(null))
            await ConsoleClient.PostVapiAsync(anon, secret, ConsoleClient.EndOfCallReport("call-" + Guid.NewGuid().ToString("N"), phone!,
                DateTimeOffset.UtcNow, "User: my date of birth is 1 March 1980, I want to book a facelift"));
        var vault = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Frontdesk.Privacy.Vault>(TestApp.Factory.Services);
        var hash = await TestApp.Db.InTransactionAsync(RequestClaims.ForClinic(clinic.Id, "test", "admin"),
            s => vault.CallerHashAsync(s, clinic.Id, Frontdesk.Privacy.CallerSubject.Phone(phone!), CancellationToken.None), CancellationToken.None);
        await TestApp.ExecAsync("insert into sms_opt_outs (clinic_id, phone_hash, source) values ($1, $2, 'STOP')", clinic.Id, hash);

        var (client, _) = await ConsoleClient.SignedInAsync(clinic.Id, "receptionist");
        using var _c = client;
        await client.GetAsync(ConsoleRoutes.Patients);
        var tooShort = await client.PostAsync(ConsoleRoutes.Patients, ("q", "G"));
        Assert.Equal(HttpStatusCode.BadRequest, tooShort.Status);
        var byName = await client.PostAsync(ConsoleRoutes.Patients, ("q", "grace"));
        var link = Assert.Single(byName.Document.QuerySelectorAll("tbody a"));
        Assert.Equal($"{ConsoleRoutes.Patients}/{patientId}", link.GetAttribute("href"));
        var byNumber = await client.PostAsync(ConsoleRoutes.Patients, ("q", phone![^6..]));
        Assert.Single(byNumber.Document.QuerySelectorAll("tbody a"));
        Assert.Contains("No patient matches", (await client.PostAsync(ConsoleRoutes.Patients, ("q", "zz_nobody%"))).Text);

        var page = await client.GetAsync(link.GetAttribute("href")!);
        Assert.True(page.H1 == "Grace Hopper", $"{(int)page.Status} {page.Text[..Math.Min(2000, page.Text.Length)]}");
        Assert.Contains("Opted out", page.Text);
        Assert.Contains("Dr Test", page.Document.QuerySelector("section[aria-labelledby=bk-h]")!.TextContent);
        Assert.Single(page.Document.QuerySelectorAll("section[aria-labelledby=calls-h] li"));
        // Receptionists see no transcript; the page says who does.
        Assert.Empty(page.Document.QuerySelectorAll("pre.transcript"));
        Assert.Contains("Full transcripts are shown to admins and doctors", page.Text);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'accessed' and entity = 'patient' and entity_id = $2", clinic.Id, patientId.ToString()));
        // Searches are audited by their number of results, never by what was typed.
        Assert.Equal(3L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'console_viewed' and entity_id = 'patient_search'", clinic.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and detail::text ilike '%grace%'", clinic.Id));

        // A doctor sees the transcript (and the clinical notes section).
        var (doctor, _) = await ConsoleClient.SignedInAsync(clinic.Id, "doctor");
        using var _d = doctor;
        var asDoctor = await doctor.GetAsync($"{ConsoleRoutes.Patients}/{patientId}");
        Assert.Contains("facelift", Assert.Single(asDoctor.Document.QuerySelectorAll("pre.transcript")).TextContent);
        Assert.NotNull(asDoctor.Document.QuerySelector("section[aria-labelledby=notes-h]"));
    }

    [Fact]
    public async Task Erasure_needs_the_typed_confirmation_and_an_admin_then_the_patient_is_gone()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 1);
        var patientId = clinic.PatientIds[0];
        var url = $"{ConsoleRoutes.Patients}/{patientId}";

        var (receptionist, _) = await ConsoleClient.SignedInAsync(clinic.Id, "receptionist");
        using var _r = receptionist;
        await receptionist.GetAsync(url);
        var refused = await receptionist.PostAsync(url + "/erase", ("confirm", "ERASE"));
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.Contains("Only a clinic admin may erase a patient", refused.Text);
        var exportRefused = await receptionist.PostAsync(url + "/export");
        Assert.Equal(HttpStatusCode.Forbidden, exportRefused.Status);

        var (admin, _) = await ConsoleClient.SignedInAsync(clinic.Id, "admin");
        using var _a = admin;
        await admin.GetAsync(url);
        var export = await admin.Http.PostAsync(url + "/export", new FormUrlEncodedContent([new("csrf", (await admin.GetAsync(url)).Document.QuerySelector("input[name=csrf]")!.GetAttribute("value")!)]));
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        Assert.Equal("application/json", export.Content.Headers.ContentType!.MediaType);
        Assert.Contains($"patient-{patientId}.json", export.Content.Headers.ContentDisposition!.ToString());
        Assert.Contains("\"auditTrail\"", await export.Content.ReadAsStringAsync());
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'exported' and entity_id = $2", clinic.Id, patientId.ToString()));

        var wrongWord = await admin.PostAsync(url + "/erase", ("confirm", "erase"));
        Assert.Equal(HttpStatusCode.BadRequest, wrongWord.Status);
        Assert.Contains("Nothing was erased", wrongWord.Text);
        Assert.Null(await TestApp.ScalarAsync<DateTime?>("select erased_at from patients where id = $1", patientId));

        var erased = await admin.PostAsync(url + "/erase", ("confirm", "ERASE"));
        Assert.Equal(ConsoleRoutes.Patients + "?done=erased", erased.Location);
        Assert.Null(await TestApp.ScalarAsync<string>("select name from patients where id = $1", patientId));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'erased' and entity_id = $2", clinic.Id, patientId.ToString()));
        var after = await admin.GetAsync(url);
        Assert.Equal("Erased patient", after.H1);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync(url + "/erase", ("confirm", "ERASE"))).Status);
    }

    [Fact]
    public async Task A_second_clinics_staff_reach_none_of_the_first_clinics_records_by_id_or_url()
    {
        var clinic = await TestClinic.CreateAsync(slots: 2, patients: 1);
        var patientId = clinic.PatientIds[0];
        using (var api = TestApp.As(clinic.Id))
            await api.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = clinic.SlotIds[0], patientId, clinicId = clinic.Id });
        var bookingId = await TestApp.ScalarAsync<Guid>("select id from bookings where slot_id = $1", clinic.SlotIds[0]);
        await TestApp.ExecAsync("update bookings set calendar_status = 'failed', calendar_error = 'x' where id = $1", bookingId);
        await TestApp.ExecAsync("insert into calendar_jobs (clinic_id, booking_id, op, done_at) values ($1, $2, 'create', now()) on conflict do nothing", clinic.Id, bookingId);

        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (stranger, _) = await ConsoleClient.SignedInAsync(other.Id, "admin");
        using var _s = stranger;
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync($"{ConsoleRoutes.Patients}/{patientId}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync($"{ConsoleRoutes.Patients}/{patientId}/erase", ("confirm", "ERASE"))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync($"{ConsoleRoutes.Patients}/{patientId}/export")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync($"{ConsoleRoutes.Bookings}/{bookingId}/cancel")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync($"{ConsoleRoutes.Bookings}/{bookingId}/move", ("slot", clinic.SlotIds[1].ToString()))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync($"{ConsoleRoutes.Queue}/calendar/{bookingId}", ("action", "retry"))).Status);
        Assert.Empty((await stranger.PostAsync(ConsoleRoutes.Patients, ("q", "Patient"))).Document.QuerySelectorAll("tbody a"));
        Assert.DoesNotContain("Calendar not updated", (await stranger.GetAsync(ConsoleRoutes.Queue)).Text);

        Assert.Null(await TestApp.ScalarAsync<DateTime?>("select erased_at from patients where id = $1", patientId));
        Assert.Equal("confirmed|failed", await TestApp.ScalarAsync<string>("select status || '|' || calendar_status from bookings where id = $1", bookingId));
    }

    [Fact]
    public async Task Work_queue_lists_SMS_needing_review_and_failed_calendar_syncs_and_retries_a_sync()
    {
        var clinic = await TestClinic.CreateAsync(slots: 2, patients: 1);
        using (var api = TestApp.As(clinic.Id))
            await api.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = clinic.SlotIds[0], patientId = clinic.PatientIds[0], clinicId = clinic.Id });
        var bookingId = await TestApp.ScalarAsync<Guid>("select id from bookings where slot_id = $1", clinic.SlotIds[0]);
        await TestApp.ExecAsync("update bookings set calendar_status = 'failed', calendar_error = 'Google answered 403 forbidden' where id = $1", bookingId);
        await TestApp.ExecAsync("""
            insert into calendar_jobs (clinic_id, booking_id, op, attempts, done_at, last_error) values ($1, $2, 'create', 7, now(), 'forbidden')
            on conflict (clinic_id, booking_id) do update set attempts = 7, done_at = now(), last_error = 'forbidden'
            """, clinic.Id, bookingId);
        // Messages as the outbox leaves them (recipient and text sealed elsewhere; only the hash here).
        var messageId = await TestApp.ScalarAsync<Guid>("""
            insert into sms_messages (clinic_id, to_hash, segments, encoding, status, error_message) values ($1, $2, 1, 'GSM-7', 'review', 'timeout') returning id
            """, clinic.Id, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        await TestApp.ExecAsync("""
            insert into sms_messages (clinic_id, to_hash, segments, encoding, status, error_message, updated_at) values ($1, $2, 1, 'GSM-7', 'failed', 'recipient opted out', now() - interval '1 minute')
            """, clinic.Id, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

        var (client, _) = await ConsoleClient.SignedInAsync(clinic.Id, "receptionist");
        using var _c = client;
        var queue = await client.GetAsync(ConsoleRoutes.Queue);
        var items = queue.Document.QuerySelectorAll("ul.items > li").Select(li => li.TextContent).ToList();
        Assert.Equal(3, items.Count);
        // Most urgent first: the message whose outcome is unknown.
        Assert.Contains("Needs review", items[0]);
        Assert.Contains("check before sending again", items[0]);
        Assert.Contains("Send again", items[0]);
        Assert.Contains("Mark as sent", items[0]);
        Assert.Contains("Calendar not updated", items[1]);
        Assert.Contains("Google answered 403", items[1]);
        Assert.Contains("Not sent: recipient opted out", items[2]);

        var unknownAction = await client.PostAsync($"{ConsoleRoutes.Queue}/calendar/{bookingId}", ("action", "explode"));
        Assert.Equal(HttpStatusCode.BadRequest, unknownAction.Status);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"{ConsoleRoutes.Queue}/nothing/{bookingId}", ("action", "retry"))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"{ConsoleRoutes.Queue}/calendar/not-a-guid", ("action", "retry"))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"{ConsoleRoutes.Queue}/review/{Guid.NewGuid()}", ("action", "resend"))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync($"{ConsoleRoutes.Queue}/review/{messageId}", ("action", "explode"))).Status);

        // The message in review: marked as sent through the review API (its checks, its audit row).
        var marked = await client.PostAsync($"{ConsoleRoutes.Queue}/review/{messageId}", ("action", "mark_sent"));
        Assert.Equal(ConsoleRoutes.Queue + "?done=done", marked.Location);
        Assert.Equal("sent", await TestApp.ScalarAsync<string>("select status from sms_messages where id = $1", messageId));
        Assert.NotEqual(HttpStatusCode.Redirect, (await client.PostAsync($"{ConsoleRoutes.Queue}/review/{messageId}", ("action", "mark_sent"))).Status);
        // Doctors do not work the review queue (the API's rule).
        var (doctor, _) = await ConsoleClient.SignedInAsync(clinic.Id, "doctor");
        using var _d = doctor;
        Assert.DoesNotContain("Text message", (await doctor.GetAsync(ConsoleRoutes.Queue)).Text);
        Assert.Equal(HttpStatusCode.Forbidden, (await doctor.PostAsync($"{ConsoleRoutes.Queue}/review/{messageId}", ("action", "cancel"))).Status);

        var retried = await client.PostAsync($"{ConsoleRoutes.Queue}/calendar/{bookingId}", ("action", "retry"));
        Assert.Equal(ConsoleRoutes.Queue + "?done=done", retried.Location);
        // Re-armed: a new version of the job and the booking no longer 'failed' (a calendar worker of another
        // instance on this database may converge it at once, so nothing later than that is asserted).
        Assert.Equal("1|2", await TestApp.ScalarAsync<string>("""
            select (b.calendar_status is distinct from 'failed')::int || '|' || j.version
            from bookings b join calendar_jobs j on j.clinic_id = b.clinic_id and j.booking_id = b.id where b.id = $1
            """, bookingId));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'calendar_retry'", clinic.Id));
        // Done is done: the item left the queue and a second retry finds nothing.
        Assert.DoesNotContain("Calendar not updated", (await client.GetAsync(ConsoleRoutes.Queue)).Text);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"{ConsoleRoutes.Queue}/calendar/{bookingId}", ("action", "retry"))).Status);
    }

    [Fact]
    public async Task Bookings_day_view_shows_slot_states_and_moves_and_cancels_through_the_slot_engine()
    {
        var start = DateTimeOffset.UtcNow.Date.AddDays(3).AddHours(9);
        var clinic = await TestClinic.CreateAsync(slots: 4, patients: 1, firstSlot: new DateTimeOffset(start, TimeSpan.Zero), timezone: "UTC");
        await TestApp.ExecAsync("update patients set name = 'Alan Turing' where id = $1", clinic.PatientIds[0]);
        using (var api = TestApp.As(clinic.Id))
            await api.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = clinic.SlotIds[0], patientId = clinic.PatientIds[0], clinicId = clinic.Id });
        var bookingId = await TestApp.ScalarAsync<Guid>("select id from bookings where slot_id = $1", clinic.SlotIds[0]);
        await TestApp.ExecAsync("update calendar_slots set hold_holder = 'call-1', hold_expires_at = now() + interval '5 minutes' where id = $1", clinic.SlotIds[1]);
        await TestApp.ExecAsync("update calendar_slots set busy = true where id = $1", clinic.SlotIds[2]);

        var (client, _) = await ConsoleClient.SignedInAsync(clinic.Id, "receptionist");
        using var _c = client;
        var day = start.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var page = await client.GetAsync($"{ConsoleRoutes.Bookings}?day={day}");
        var rows = page.Document.QuerySelectorAll("tbody tr").Select(r => r.TextContent).ToList();
        Assert.Equal(4, rows.Count);
        Assert.Contains("Booked", rows[0]);
        Assert.Contains("Alan", rows[0]);
        Assert.DoesNotContain("Turing", rows[0]);
        Assert.Contains("Held", rows[1]);
        Assert.Contains("Busy in calendar", rows[2]);
        Assert.Contains("Free", rows[3]);

        var week = await client.GetAsync($"{ConsoleRoutes.Bookings}?day={day}&view=week&practitioner={clinic.PractitionerId}");
        Assert.Equal("Bookings this week", week.H1);
        Assert.Contains("1 booked", week.Text);
        Assert.Contains("1 free", week.Text);

        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync($"{ConsoleRoutes.Bookings}/{bookingId}/move", ("slot", ""))).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsync($"{ConsoleRoutes.Bookings}/{bookingId}/move", ("slot", clinic.SlotIds[1].ToString()))).Status);
        var moved = await client.PostAsync($"{ConsoleRoutes.Bookings}/{bookingId}/move", ("slot", clinic.SlotIds[3].ToString()));
        Assert.Equal($"{ConsoleRoutes.Bookings}?day={day}&done=moved", moved.Location);
        Assert.Equal(clinic.SlotIds[3], await TestApp.ScalarAsync<Guid>("select slot_id from bookings where id = $1", bookingId));

        var cancelled = await client.PostAsync($"{ConsoleRoutes.Bookings}/{bookingId}/cancel");
        Assert.Equal($"{ConsoleRoutes.Bookings}?day={day}&done=cancelled", cancelled.Location);
        Assert.Equal("cancelled", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", bookingId));
        Assert.Contains("slot is free again", (await client.GetAsync(cancelled.Location!)).Text);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"{ConsoleRoutes.Bookings}/{bookingId}/cancel")).Status);
    }

    [Fact]
    public async Task Reports_draw_the_follow_up_funnel_and_the_callers_wait_as_SVG()
    {
        var (clinic, secret) = await ClinicWithSecretAsync(slots: 0, patients: 0);
        using (var anon = TestApp.Client(null))
            await ConsoleClient.PostVapiAsync(anon, secret, ConsoleClient.EndOfCallReport("call-" + Guid.NewGuid().ToString("N"), "+447900555123",
                ConsoleClient.EarlierToday(TimeSpan.FromMinutes(1)), "User: rhinoplasty please, bye"));
        var (client, _) = await ConsoleClient.SignedInAsync(clinic.Id, "admin");
        using var _c = client;
        var page = await client.GetAsync(ConsoleRoutes.Reports);
        Assert.Equal(HttpStatusCode.OK, page.Status);
        var svgs = page.Document.QuerySelectorAll("svg[role=img]");
        Assert.Equal(2, svgs.Length);
        Assert.Contains("1 calls, 1 follow-ups, 0 delivered, 0 booked", svgs[0].QuerySelector("title")!.TextContent);
        Assert.Contains("2 turn latencies", svgs[1].QuerySelector("title")!.TextContent);
        Assert.Contains("p50 / p95 / p99", page.Text);
        // Nothing inline that the CSP would block: no style attributes, no script.
        Assert.Empty(page.Document.QuerySelectorAll("[style], script"));

        var reversed = await client.GetAsync(ConsoleRoutes.Reports + "?from=2026-12-31&to=2026-01-01");
        Assert.Contains("The start was after the end", reversed.Text);
        var long_ = await client.GetAsync(ConsoleRoutes.Reports + "?from=2020-01-01&to=2026-01-01");
        Assert.Contains("at most a year", long_.Text);
        Assert.Contains("No turn latencies in this range", long_.Text);
    }

    [Fact]
    public async Task Settings_are_for_admins_and_every_form_goes_through_the_APIs_rules()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (receptionist, _) = await ConsoleClient.SignedInAsync(clinic.Id, "receptionist");
        using var _r = receptionist;
        Assert.Equal(HttpStatusCode.Forbidden, (await receptionist.GetAsync(ConsoleRoutes.Settings)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await receptionist.PostAsync(ConsoleRoutes.Settings + "/followup", ("agent", "x"), ("agentName", "y"))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await receptionist.GetAsync(ConsoleRoutes.Staff)).Status);
        Assert.Null((await receptionist.GetAsync(ConsoleRoutes.Today)).Document.QuerySelector($"nav a[href='{ConsoleRoutes.Settings}']"));

        var (admin, _) = await ConsoleClient.SignedInAsync(clinic.Id, "admin");
        using var _a = admin;
        var settings = await admin.GetAsync(ConsoleRoutes.Settings);
        Assert.Equal("Settings", settings.H1);
        Assert.Equal(4, settings.Document.QuerySelectorAll("#procedures ul.items > li").Length);

        // The API's template check, its message shown, the typed text kept.
        var bad = await admin.PostAsync(ConsoleRoutes.Settings + "/followup", ("agent", "sarah_outbound"), ("agentName", "Sarah"),
            ("template", "Hi {{patientName}}, see {{nope}}"), ("quietStart", ""), ("quietEnd", ""));
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.True(bad.Text.Contains("Unknown placeholders: nope", StringComparison.Ordinal), bad.Html);
        Assert.Contains("{{nope}}", bad.Document.QuerySelector("#template")!.TextContent);
        var good = await admin.PostAsync(ConsoleRoutes.Settings + "/followup", ("agent", "sarah_outbound"), ("agentName", "Sarah"),
            ("template", "Hi {{patientName}}, book at {{bookingLink}}"), ("voicemail", "on"), ("quietStart", "21:00"), ("quietEnd", "08:00"));
        Assert.Equal(ConsoleRoutes.Settings + "?done=saved#followup", good.Location);
        Assert.Equal("true|21:00", await TestApp.ScalarAsync<string>("select followup_on_voicemail || '|' || to_char(quiet_start, 'HH24:MI') from clinics where id = $1", clinic.Id));

        Assert.Equal(ConsoleRoutes.Settings + "?done=saved#procedures", (await admin.PostAsync(ConsoleRoutes.Settings + "/procedures",
            ("name", "Lip Filler"), ("synonyms", "lips, lip filler"), ("guide", "/guides/lips.pdf"))).Location);
        Assert.Equal(2, await TestApp.ScalarAsync<int>("select cardinality(synonyms) from clinic_procedures where clinic_id = $1 and name = 'Lip Filler'", clinic.Id));
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsync(ConsoleRoutes.Settings + "/procedures", ("name", "X"), ("guide", "ftp://nope"))).Status);
        Assert.Equal(ConsoleRoutes.Settings + "?done=saved#procedures", (await admin.PostAsync(ConsoleRoutes.Settings + "/procedures/delete", ("name", "Lip Filler"))).Location);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync(ConsoleRoutes.Settings + "/procedures/delete", ("name", "Lip Filler"))).Status);

        Assert.Equal(ConsoleRoutes.Settings + "?done=saved#practitioners", (await admin.PostAsync(ConsoleRoutes.Settings + "/practitioners", ("name", "Dr Grace"))).Location);
        var practitioner = await TestApp.ScalarAsync<Guid>("select id from practitioners where clinic_id = $1 and name = 'Dr Grace'", clinic.Id);
        // Linking is the API's: it proves the calendar with Google first, which is off here — its refusal is shown.
        var link = await admin.PostAsync(ConsoleRoutes.Settings + "/calendar", ("practitioner", practitioner.ToString()), ("calendarId", "grace@clinic.test"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, link.Status);
        Assert.Contains("Linking checks the calendar with Google", link.Text);
        Assert.Null(await TestApp.ScalarAsync<string>("select calendar_id from practitioners where id = $1", practitioner));
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsync(ConsoleRoutes.Settings + "/calendar", ("calendarId", "x"))).Status);

        // Knowledge: upload a file, replace it by source, delete it.
        await admin.GetAsync(ConsoleRoutes.Settings);
        var csrf = (await admin.GetAsync(ConsoleRoutes.Settings)).Document.QuerySelector("input[name=csrf]")!.GetAttribute("value")!;
        using (var upload = new MultipartFormDataContent())
        {
            upload.Add(new StringContent(csrf), "csrf");
            upload.Add(new StringContent("Prices"), "title");
            upload.Add(new StringContent("prices.md"), "source");
            upload.Add(new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes("# Prices\n\nA rhinoplasty consultation costs £150.")), "file", "prices.md");
            Assert.Equal(ConsoleRoutes.Settings + "?done=saved#knowledge", (await admin.PostRawAsync(ConsoleRoutes.Settings + "/knowledge", upload)).Location);
        }
        using (var binary = new MultipartFormDataContent())
        {
            binary.Add(new StringContent(csrf), "csrf");
            binary.Add(new StringContent("Bad"), "title");
            binary.Add(new StringContent("bad.md"), "source");
            binary.Add(new ByteArrayContent([0xff, 0xfe, 0xfd]), "file", "bad.md");
            Assert.Contains("not UTF-8", (await admin.PostRawAsync(ConsoleRoutes.Settings + "/knowledge", binary)).Text);
        }
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsync(ConsoleRoutes.Settings + "/knowledge", ("title", "Empty"), ("source", "e.md"), ("content", ""))).Status);
        using (var search = TestApp.As(clinic.Id))
            Assert.Contains("£150", await search.GetStringAsync($"/api/clinics/{clinic.Id}/knowledge/search?q=rhinoplasty%20price"));
        var documentId = await TestApp.ScalarAsync<Guid>("select id from knowledge_documents where clinic_id = $1 and source = 'prices.md'", clinic.Id);
        Assert.Contains("Prices", (await admin.GetAsync(ConsoleRoutes.Settings)).Document.QuerySelector("#knowledge tbody")!.TextContent);
        Assert.Equal(ConsoleRoutes.Settings + "?done=saved#knowledge", (await admin.PostAsync($"{ConsoleRoutes.Settings}/knowledge/{documentId}/delete")).Location);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from knowledge_chunks where clinic_id = $1", clinic.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from knowledge_lexemes where clinic_id = $1 and df > 0", clinic.Id));

        // Vapi: ids and a secret that is never shown back.
        var vapi = await admin.PostAsync(ConsoleRoutes.Settings + "/vapi", ("assistantId", "asst-" + Guid.NewGuid().ToString("N")), ("phoneNumberId", ""),
            ("secret", "a-long-enough-vapi-secret"), ("hmac", "on"));
        Assert.Equal(ConsoleRoutes.Settings + "?done=saved#vapi", vapi.Location);
        Assert.Equal("a-long-enough-vapi-secret|true", await TestApp.ScalarAsync<string>("select vapi_secret || '|' || vapi_hmac from clinics where id = $1", clinic.Id));
        var shown = await admin.GetAsync(ConsoleRoutes.Settings);
        Assert.DoesNotContain("a-long-enough-vapi-secret", shown.Html);
        Assert.Contains("A secret is set", shown.Text);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsync(ConsoleRoutes.Settings + "/vapi", ("secret", "short"))).Status);
    }

    [Fact]
    public async Task Admins_invite_colleagues_with_a_one_time_password_and_disabling_ends_their_sessions()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (admin, adminStaff) = await ConsoleClient.SignedInAsync(clinic.Id, "admin");
        using var _a = admin;
        await admin.GetAsync(ConsoleRoutes.Staff);
        var email = $"new-{Guid.NewGuid():N}@clinic.test";
        var invited = await admin.PostAsync(ConsoleRoutes.Staff, ("name", "Rita Receptionist"), ("email", email), ("role", "receptionist"));
        Assert.Equal(HttpStatusCode.Created, invited.Status);
        var otp = invited.Document.QuerySelector(".note.ok .secret")!.TextContent;
        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsync(ConsoleRoutes.Staff, ("name", "Again"), ("email", email), ("role", "doctor"))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsync(ConsoleRoutes.Staff, ("name", "X"), ("email", "nope"), ("role", "owner"))).Status);

        using var rita = new ConsoleClient();
        Assert.Equal(ConsoleRoutes.Password, (await rita.SignInAsync(email, otp)).Location);
        await rita.GetAsync(ConsoleRoutes.Password);
        Assert.Equal(HttpStatusCode.BadRequest, (await rita.PostAsync(ConsoleRoutes.Password, ("new", ConsoleClient.Password), ("confirm", "different"))).Status);
        Assert.Contains("different from the current one", (await rita.PostAsync(ConsoleRoutes.Password, ("new", otp), ("confirm", otp))).Text);
        await rita.PostAsync(ConsoleRoutes.Password, ("new", ConsoleClient.Password), ("confirm", ConsoleClient.Password));
        Assert.Equal(HttpStatusCode.OK, (await rita.GetAsync(ConsoleRoutes.Queue)).Status);

        var ritaId = await TestApp.ScalarAsync<Guid>("select id from staff_accounts where email = $1", email);
        var list = await admin.GetAsync(ConsoleRoutes.Staff);
        Assert.Contains("Rita Receptionist", list.Text);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsync($"{ConsoleRoutes.Staff}/{adminStaff.Id}/disable")).Status);
        Assert.Equal(ConsoleRoutes.Staff + "?done=done", (await admin.PostAsync($"{ConsoleRoutes.Staff}/{ritaId}/disable")).Location);
        Assert.Equal(HttpStatusCode.SeeOther, (await rita.GetAsync(ConsoleRoutes.Queue)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await rita.SignInAsync(email)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync($"{ConsoleRoutes.Staff}/{ritaId}/disable")).Status);
    }

    [Fact]
    public async Task Audit_page_filters_the_trail_and_reports_the_chain_verified_or_broken()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 1);
        var (client, _) = await ConsoleClient.SignedInAsync(clinic.Id, "receptionist");
        using var _c = client;
        await client.GetAsync($"{ConsoleRoutes.Patients}/{clinic.PatientIds[0]}");
        var audit = await client.GetAsync(ConsoleRoutes.Audit);
        Assert.Contains("The chain verifies", audit.Text);
        Assert.Contains("console_signed_in", audit.Document.QuerySelector("#action")!.TextContent);
        var filtered = await client.GetAsync(ConsoleRoutes.Audit + "?action=accessed&entity=patient");
        Assert.Single(filtered.Document.QuerySelectorAll("tbody tr"));
        Assert.Contains("No entries match", (await client.GetAsync(ConsoleRoutes.Audit + "?actor=nobody")).Text);

        // Tampering (as the table owner could) with a sealed row is reported on the page.
        await Frontdesk.Tests.Audit.AuditWait.SealedAsync(clinic.Id);
        await TestApp.ExecAsync("alter table audit_trail disable trigger user");
        try { await TestApp.ExecAsync("update audit_trail set detail = '{\"x\":1}' where clinic_id = $1 and seq = 1", clinic.Id); }
        finally { await TestApp.ExecAsync("alter table audit_trail enable trigger user"); }
        var broken = await client.GetAsync(ConsoleRoutes.Audit);
        Assert.Contains("The chain does not verify", broken.Text);
    }

    [Fact]
    public async Task Every_page_is_accessible_in_structure_and_carries_the_strict_CSP()
    {
        var clinic = await TestClinic.CreateAsync(slots: 2, patients: 1);
        var (client, _) = await ConsoleClient.SignedInAsync(clinic.Id, "admin");
        using var _c = client;
        string[] pages = [ConsoleRoutes.Today, ConsoleRoutes.Queue, ConsoleRoutes.Patients, $"{ConsoleRoutes.Patients}/{clinic.PatientIds[0]}",
            ConsoleRoutes.Bookings, ConsoleRoutes.Bookings + "?view=week", ConsoleRoutes.Reports, ConsoleRoutes.Settings, ConsoleRoutes.Staff,
            ConsoleRoutes.Audit, ConsoleRoutes.Account, ConsoleRoutes.Password];
        foreach (var url in pages)
        {
            var page = await client.GetAsync(url);
            Assert.True(page.Status == HttpStatusCode.OK, $"{url}: {(int)page.Status}");
            var csp = page.Response.Headers.GetValues("Content-Security-Policy").Single();
            Assert.Contains("default-src 'none'", csp);
            Assert.DoesNotContain("unsafe", csp);
            Assert.Equal("no-store", page.Response.Headers.CacheControl!.ToString());
            var d = page.Document;
            Assert.Equal("en", d.DocumentElement.GetAttribute("lang"));
            Assert.Single(d.QuerySelectorAll("h1"));
            Assert.Single(d.QuerySelectorAll("main"));
            Assert.NotNull(d.QuerySelector("nav[aria-label]"));
            Assert.Empty(d.QuerySelectorAll("script, [style], [onclick]"));
            foreach (var form in d.QuerySelectorAll("form[method=post]"))
                Assert.NotNull(form.QuerySelector("input[name=csrf]"));
            foreach (var control in d.QuerySelectorAll("input:not([type=hidden]), select, textarea"))
            {
                var id = control.GetAttribute("id");
                var labelled = control.Closest("label") is not null || (id is not null && d.QuerySelector($"label[for='{id}']") is not null)
                               || control.HasAttribute("hidden");
                Assert.True(labelled, $"{url}: {control.OuterHtml} has no label");
            }
        }
    }
}
