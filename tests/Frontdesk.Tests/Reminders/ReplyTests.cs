using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Bench;
using Frontdesk.Manage;
using Frontdesk.Messaging;
using Frontdesk.Platform;
using Frontdesk.Reminders;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static Frontdesk.Tests.Reminders.ReminderHelpers;

namespace Frontdesk.Tests.Reminders;

/// <summary>Replies to reminders through the signed Twilio inbound webhook: reply words act, anything else
/// reaches the staff inbox, Twilio's retries change nothing.</summary>
[Collection("twilio")]
public class ReplyTests(TwilioFixture fx)
{
    sealed record Setup(TestClinic Clinic, Guid PatientId, string Phone, string ClinicNumber, Guid BookingId, DateTimeOffset StartsAt, string ClinicName);

    static async Task<Setup> BookedAsync(string patientName = "Jane Doe")
    {
        var clinicNumber = NewPhone();
        var (clinic, patient, phone) = await ClinicAsync(smsFrom: clinicNumber, patientName: patientName);
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[1], patient);
        var start = new DateTimeOffset(await TestApp.ScalarAsync<DateTime>("select starts_at from bookings where id = $1", booking), TimeSpan.Zero);
        var name = (await TestApp.ScalarAsync<string>("select name from clinics where id = $1", clinic.Id))!;
        return new Setup(clinic, patient, phone, clinicNumber, booking, start, name);
    }

    static string NewSid() => "SM" + Guid.NewGuid().ToString("N");

    async Task<HttpResponseMessage> InboundAsync(string from, string to, string body, string? sid)
    {
        var fields = new List<KeyValuePair<string, string>> { new("From", from), new("To", to), new("Body", body), new("AccountSid", FakeTwilio.AccountSid) };
        if (sid is not null) fields.Add(new("MessageSid", sid));
        using var client = fx.App.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/twilio/inbound") { Content = new FormUrlEncodedContent(fields) };
        request.Headers.Add("X-Twilio-Signature", TwilioSignature.Compute(FakeTwilio.AuthToken, "https://frontdesk.test/twilio/inbound", fields));
        return await client.SendAsync(request);
    }

    async Task ReplyAsync(Setup s, string body, string? sid = null)
    {
        var r = await InboundAsync(s.Phone, s.ClinicNumber, body, sid ?? NewSid());
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("text/xml", r.Content.Headers.ContentType?.MediaType);
    }

    static Task<DateTime?> ConfirmedAtAsync(Guid bookingId) => TestApp.ScalarAsync<DateTime?>("select confirmed_at from bookings where id = $1", bookingId);

    [Theory]
    [InlineData("C")]
    [InlineData(" yes ")]
    [InlineData("Confirm")]
    [InlineData("c.")]
    public async Task A_confirm_word_confirms_the_booking_audits_it_and_thanks_the_patient(string word)
    {
        var s = await BookedAsync();
        await ReplyAsync(s, word);
        Assert.NotNull(await ConfirmedAtAsync(s.BookingId));
        Assert.Equal("sms_reply", await TestApp.ScalarAsync<string>(
            "select detail ->> 'via' from audit_trail where clinic_id = $1 and action = 'confirmed' and entity_id = $2 and actor = 'twilio:inbound'",
            s.Clinic.Id, s.BookingId.ToString()));
        var sms = await fx.Fake.WaitForAsync(s.Phone, TimeSpan.FromSeconds(10));
        Assert.Equal($"Thank you, your appointment at {s.ClinicName} on {Spoken(s.StartsAt)} is confirmed.", sms.Body);
        Assert.Equal(s.ClinicNumber, sms.From);
        Assert.Equal("confirm|answered|true|false", await TestApp.ScalarAsync<string>(
            "select kind || '|' || status || '|' || (reply_message_id is not null) || '|' || (content is not null) from sms_replies where clinic_id = $1", s.Clinic.Id));
        using var admin = fx.As(s.Clinic.Id);
        var booking = await TestClinic.Json(await admin.GetAsync($"/api/bookings/{s.Clinic.Id}/{s.BookingId}"));
        Assert.Equal(JsonValueKind.String, booking.GetProperty("confirmedAt").ValueKind);
    }

    [Theory]
    [InlineData("R")]
    [InlineData("reschedule")]
    [InlineData(" CHANGE ")]
    public async Task A_reschedule_word_gets_the_manage_link_of_the_booking(string word)
    {
        var s = await BookedAsync();
        await ReplyAsync(s, word);
        var sms = await fx.Fake.WaitForAsync(s.Phone, TimeSpan.FromSeconds(10));
        Assert.StartsWith($"To change your appointment at {s.ClinicName} on {Spoken(s.StartsAt)}, choose a new time here: https://frontdesk.test/manage/", sms.Body);
        var link = fx.App.Services.GetRequiredService<ManageLinkToken>().Authentic(sms.Body[(sms.Body.LastIndexOf('/') + 1)..]);
        Assert.Equal((s.Clinic.Id, s.BookingId, s.StartsAt), (link!.ClinicId, link.BookingId, link.ExpiresAt));
        Assert.Null(await ConfirmedAtAsync(s.BookingId));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'reschedule_requested' and entity_id = $2", s.Clinic.Id, s.BookingId.ToString()));
    }

    [Fact]
    public async Task A_reply_confirms_the_booking_its_latest_reminder_was_about_not_just_the_next_one()
    {
        var s = await BookedAsync();
        var later = await BookAsync(s.Clinic.Id, s.Clinic.SlotIds[3], s.PatientId);
        await DueNowAsync(later, TimeSpan.FromDays(1));
        await fx.App.Services.GetRequiredService<ReminderScanner>().RunOnceAsync(default);
        await fx.Fake.WaitForAsync(s.Phone, TimeSpan.FromSeconds(10));

        await ReplyAsync(s, "C");
        Assert.NotNull(await ConfirmedAtAsync(later));
        Assert.Null(await ConfirmedAtAsync(s.BookingId));
    }

    [Fact]
    public async Task Any_other_text_reaches_the_inbox_sealed_with_the_booking_attached_and_staff_mark_it_handled()
    {
        var s = await BookedAsync();
        const string text = "Can I bring my husband along?";
        await ReplyAsync(s, text);
        await Task.Delay(300);
        Assert.Empty(fx.Fake.For(s.Phone));   // a person answers this one

        // Sealed under the sender's caller key: neither the text nor the number is in the row.
        Assert.Equal(0L, await TestApp.ScalarAsync<long>(
            "select count(*) from sms_replies where clinic_id = $1 and (position(convert_to('husband', 'UTF8') in content) > 0 or position(convert_to($2, 'UTF8') in content) > 0)",
            s.Clinic.Id, s.Phone[1..]));

        using var receptionist = fx.As(s.Clinic.Id, "receptionist");
        var inbox = await TestClinic.Json(await receptionist.GetAsync($"/api/clinics/{s.Clinic.Id}/inbox"));
        var item = Assert.Single(inbox.EnumerateArray());
        Assert.Equal(text, item.GetProperty("text").GetString());
        // The sender's number and text were decrypted for this reader: the listing is audited with what it showed.
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("""
            select count(*) from audit_trail where clinic_id = $1 and action = 'accessed' and entity = 'inbox' and detail->'items' ? $2
            """, s.Clinic.Id, item.GetProperty("id").GetString()!));
        Assert.Equal(s.Phone, item.GetProperty("from").GetString());
        Assert.Equal("open", item.GetProperty("status").GetString());
        var booking = item.GetProperty("booking");
        Assert.Equal(s.BookingId, booking.GetProperty("id").GetGuid());
        Assert.Equal(s.PatientId, booking.GetProperty("patientId").GetGuid());
        Assert.Equal("Jane Doe", booking.GetProperty("patientName").GetString());
        Assert.Equal("Dr Test", booking.GetProperty("practitioner").GetString());
        Assert.Equal(s.StartsAt, booking.GetProperty("startsAt").GetDateTimeOffset());

        var id = item.GetProperty("id").GetGuid();
        var handled = await TestClinic.Json(await receptionist.PatchAsJsonAsync($"/api/clinics/{s.Clinic.Id}/inbox/{id}", new { status = "handled" }));
        Assert.Equal("handled", handled.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.String, handled.GetProperty("handledAt").ValueKind);
        Assert.StartsWith("user-", handled.GetProperty("handledBy").GetString());
        Assert.Empty((await TestClinic.Json(await receptionist.GetAsync($"/api/clinics/{s.Clinic.Id}/inbox"))).EnumerateArray());
        Assert.Single((await TestClinic.Json(await receptionist.GetAsync($"/api/clinics/{s.Clinic.Id}/inbox?status=handled"))).EnumerateArray());
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'inbox_handled' and entity_id = $2", s.Clinic.Id, id.ToString()));

        var reopened = await TestClinic.Json(await receptionist.PatchAsJsonAsync($"/api/clinics/{s.Clinic.Id}/inbox/{id}", new { status = "open" }));
        Assert.Equal("open", reopened.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, reopened.GetProperty("handledAt").ValueKind);
    }

    [Fact]
    public async Task A_retried_delivery_of_the_same_MessageSid_confirms_and_answers_once_and_files_once()
    {
        var s = await BookedAsync();
        var sid = NewSid();
        await Task.WhenAll(ReplyAsync(s, "C", sid), ReplyAsync(s, "C", sid));
        await ReplyAsync(s, "C", sid);
        await fx.Fake.WaitForAsync(s.Phone, TimeSpan.FromSeconds(10));
        await Task.Delay(700);
        Assert.Single(fx.Fake.For(s.Phone));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'confirmed'", s.Clinic.Id));

        var other = NewSid();
        await ReplyAsync(s, "Running ten minutes late", other);
        await ReplyAsync(s, "Running ten minutes late", other);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from sms_replies where clinic_id = $1 and kind = 'message'", s.Clinic.Id));
    }

    [Fact]
    public async Task A_number_with_no_upcoming_booking_still_reaches_the_inbox_even_with_a_reply_word()
    {
        var clinicNumber = NewPhone();
        var (clinic, _, phone) = await ClinicAsync(smsFrom: clinicNumber);   // a patient, no booking
        var stranger = NewPhone();                                             // not even a patient
        Assert.Equal(HttpStatusCode.OK, (await InboundAsync(phone, clinicNumber, "C", NewSid())).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await InboundAsync(stranger, clinicNumber, "Do you do evening appointments?", NewSid())).StatusCode);

        using var admin = fx.As(clinic.Id);
        var items = (await TestClinic.Json(await admin.GetAsync($"/api/clinics/{clinic.Id}/inbox"))).EnumerateArray().ToList();
        Assert.Equal([(phone, "C"), (stranger, "Do you do evening appointments?")],
            items.Select(i => (i.GetProperty("from").GetString()!, i.GetProperty("text").GetString()!)));
        Assert.All(items, i => Assert.Equal(JsonValueKind.Null, i.GetProperty("booking").ValueKind));
        await Task.Delay(300);
        Assert.Empty(fx.Fake.For(phone));

        // YES is Twilio's opt-in keyword too: with nothing to confirm it is not a message for staff.
        Assert.Equal(HttpStatusCode.OK, (await InboundAsync(phone, clinicNumber, "Yes", NewSid())).StatusCode);
        Assert.Equal(2L, await TestApp.ScalarAsync<long>("select count(*) from sms_replies where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task On_a_number_two_clinics_share_a_message_goes_to_the_clinic_that_knows_the_sender_and_an_unknown_sender_is_placed_nowhere()
    {
        var shared = NewPhone();
        var (a, _, _) = await ClinicAsync(smsFrom: shared);
        var (b, _, bPatientPhone) = await ClinicAsync(smsFrom: shared);
        Assert.Equal(HttpStatusCode.OK, (await InboundAsync(bPatientPhone, shared, "Where do I park?", NewSid())).StatusCode);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from sms_replies where clinic_id = $1", a.Id));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from sms_replies where clinic_id = $1", b.Id));

        var sid = NewSid();
        var mark = fx.Logs.Mark;
        Assert.Equal(HttpStatusCode.OK, (await InboundAsync(NewPhone(), shared, "Who is this?", sid)).StatusCode);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from sms_replies where message_sid = $1", sid));
        Assert.Contains(fx.Logs.Since(mark), l => l.Text.StartsWith("Inbound SMS not placed: the receiving number belongs to 2 clinic(s) and none of them knows the sender", StringComparison.Ordinal));
    }

    [Fact]
    public async Task STOP_still_opts_out_and_is_not_an_inbox_item_and_YES_opts_back_in_and_confirms()
    {
        var s = await BookedAsync();
        await ReplyAsync(s, "STOP");
        var hash = await Frontdesk.Tests.Privacy.CallerHashes.OfAsync(s.Clinic.Id, s.Phone);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from sms_opt_outs where clinic_id = $1 and phone_hash = $2", s.Clinic.Id, hash));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from sms_replies where clinic_id = $1", s.Clinic.Id));
        // Opted out: an inbox message still reaches staff, and nothing is texted back.
        await ReplyAsync(s, "Sorry, wrong number");
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from sms_replies where clinic_id = $1", s.Clinic.Id));

        await ReplyAsync(s, "YES");
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from sms_opt_outs where clinic_id = $1 and phone_hash = $2", s.Clinic.Id, hash));
        Assert.NotNull(await ConfirmedAtAsync(s.BookingId));
        Assert.Contains("is confirmed", (await fx.Fake.WaitForAsync(s.Phone, TimeSpan.FromSeconds(10))).Body);
    }

    [Fact]
    public async Task A_confirm_word_from_an_opted_out_number_confirms_without_texting_back()
    {
        var s = await BookedAsync();
        await ReplyAsync(s, "STOP");
        await ReplyAsync(s, "C");
        Assert.NotNull(await ConfirmedAtAsync(s.BookingId));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select reply_message_id from sms_replies where clinic_id = $1", s.Clinic.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from sms_messages where clinic_id = $1", s.Clinic.Id));
    }

    [Fact]
    public async Task A_message_without_a_MessageSid_is_a_400_and_changes_nothing()
    {
        var s = await BookedAsync();
        foreach (var sid in new string?[] { null, "", "SM-not-a-sid!" })
        {
            var r = await InboundAsync(s.Phone, s.ClinicNumber, "C", sid);
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Equal(Problems.Validation, (await ReminderSettingsTests.ProblemAsync(r)).GetProperty("type").GetString());
        }
        Assert.Null(await ConfirmedAtAsync(s.BookingId));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from sms_replies where clinic_id = $1", s.Clinic.Id));
    }

    [Fact]
    public async Task Bad_inbox_requests_are_4xx_problems_and_change_nothing()
    {
        var s = await BookedAsync();
        await ReplyAsync(s, "Is there parking?");
        var id = await TestApp.ScalarAsync<Guid>("select id from sms_replies where clinic_id = $1", s.Clinic.Id);
        using var admin = fx.As(s.Clinic.Id);
        var url = $"/api/clinics/{s.Clinic.Id}/inbox";

        foreach (var (query, type) in new[] { ("?status=closed", Problems.Validation), ("?limit=0", Problems.Validation), ("?limit=501", Problems.Validation),
                     ("?limit=ten", Problems.MalformedRequest) })
        {
            var r = await admin.GetAsync(url + query);
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Equal(type, (await ReminderSettingsTests.ProblemAsync(r)).GetProperty("type").GetString());
        }
        foreach (var json in new[] { """{"status": "done"}""", """{"status": null}""", "{}", "[]" })
        {
            var r = await admin.PatchAsync($"{url}/{id}", new StringContent(json, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.StartsWith("https://frontdesk.dev/problems/", (await ReminderSettingsTests.ProblemAsync(r)).GetProperty("type").GetString());
        }
        var unknown = await admin.PatchAsJsonAsync($"{url}/{Guid.NewGuid()}", new { status = "handled" });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(Problems.NotFound, (await ReminderSettingsTests.ProblemAsync(unknown)).GetProperty("type").GetString());
        Assert.Equal("open", await TestApp.ScalarAsync<string>("select status from sms_replies where id = $1", id));

        using var doctor = fx.As(s.Clinic.Id, "doctor");
        var forbidden = await doctor.GetAsync(url);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal(Problems.Forbidden, (await ReminderSettingsTests.ProblemAsync(forbidden)).GetProperty("type").GetString());
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var foreign = fx.As(other.Id, "receptionist");
        var crossTenant = await foreign.PatchAsJsonAsync($"{url}/{id}", new { status = "handled" });
        Assert.Equal(HttpStatusCode.Forbidden, crossTenant.StatusCode);
        Assert.Equal(Problems.CrossTenant, (await ReminderSettingsTests.ProblemAsync(crossTenant)).GetProperty("type").GetString());
        Assert.Equal("open", await TestApp.ScalarAsync<string>("select status from sms_replies where id = $1", id));
    }

    [Fact]
    public async Task Replies_are_in_the_patients_export_purged_by_retention_and_gone_after_erasure()
    {
        var s = await BookedAsync();
        await ReplyAsync(s, "C");
        await ReplyAsync(s, "Is there parking nearby?");
        using var admin = fx.As(s.Clinic.Id);

        var export = await TestClinic.Json(await admin.GetAsync($"/api/patients/{s.Clinic.Id}/{s.PatientId}/export"));
        var replies = export.GetProperty("replies").EnumerateArray().ToList();
        Assert.Equal(["confirm", "message"], replies.Select(r => r.GetProperty("kind").GetString()));
        Assert.Equal("Is there parking nearby?", replies[1].GetProperty("text").GetString());
        Assert.Equal(s.Phone, replies[1].GetProperty("from").GetString());
        Assert.Equal(s.BookingId, replies[1].GetProperty("bookingId").GetGuid());
        Assert.Equal(JsonValueKind.String, export.GetProperty("bookings")[0].GetProperty("confirmedAt").ValueKind);

        // Past the clinic's retention the text goes, the row stays.
        await TestApp.ExecAsync("update sms_replies set received_at = now() - interval '91 days' where clinic_id = $1", s.Clinic.Id);
        await fx.App.Services.GetRequiredService<Frontdesk.Privacy.RetentionWorker>().RunOnceAsync(default);
        var item = Assert.Single((await TestClinic.Json(await admin.GetAsync($"/api/clinics/{s.Clinic.Id}/inbox"))).EnumerateArray());
        Assert.Equal(JsonValueKind.Null, item.GetProperty("text").ValueKind);
        Assert.Equal(JsonValueKind.String, item.GetProperty("contentPurgedAt").ValueKind);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/patients/{s.Clinic.Id}/{s.PatientId}")).StatusCode);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from sms_replies where clinic_id = $1", s.Clinic.Id));
        Assert.Equal(2L, await TestApp.ScalarAsync<long>(
            "select (detail ->> 'replies')::bigint from audit_trail where clinic_id = $1 and action = 'erased'", s.Clinic.Id));
    }
}
