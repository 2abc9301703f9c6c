using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Privacy;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Frontdesk.Tests.Privacy;

/// <summary>Per-clinic retention of call content (API.md "Privacy settings"), the worker that enforces
/// it, and the backfill that seals personal values stored in plaintext before issue 13.</summary>
[Collection("twilio")]
public class RetentionTests(TwilioFixture fx)
{
    RetentionWorker Worker => fx.App.Services.GetRequiredService<RetentionWorker>();

    static object Report(string callId, string phone, string transcript) => new { message = Message(callId, phone, transcript) };

    static object Message(string callId, string phone, string transcript) => new
    {
            type = "end-of-call-report",
            endedReason = "customer-ended-call",
            startedAt = "2026-01-14T10:00:00.000Z",
            endedAt = "2026-01-14T10:04:05.000Z",
            cost = 0.05,
            analysis = new { summary = "Asked about a facelift.", structuredData = new { procedure = "Facelift" } },
            artifact = new { transcript, recordingUrl = $"https://storage.vapi.ai/{callId}-mono.wav", messages = new[] { new { role = "user", message = transcript } } },
            call = new { id = callId },
            customer = new { number = phone },
    };

    [Fact]
    public async Task Privacy_settings_default_to_90_days_are_admin_only_validated_and_audited()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = TestApp.As(clinic.Id, "admin");
        var settings = await TestClinic.Json(await admin.GetAsync($"/api/clinics/{clinic.Id}/privacy"));
        Assert.Equal(90, settings.GetProperty("callContentRetentionDays").GetInt32());

        var put = await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/privacy", new { callContentRetentionDays = 30 });
        Assert.Equal(30, (await TestClinic.Json(put)).GetProperty("callContentRetentionDays").GetInt32());
        Assert.Equal(30, (await TestClinic.Json(await admin.GetAsync($"/api/clinics/{clinic.Id}/privacy"))).GetProperty("callContentRetentionDays").GetInt32());
        Assert.Equal("""{"previous": 90, "callContentRetentionDays": 30}""", await TestApp.ScalarAsync<string>(
            "select detail::text from audit_trail where clinic_id = $1 and action = 'privacy_settings_changed'", clinic.Id));

        foreach (var bad in new[] { 0, 3651, -5 })
        {
            var r = await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/privacy", new { callContentRetentionDays = bad });
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Equal(Problems.Validation, (await TwilioFixture.JsonAsync(r)).GetProperty("type").GetString());
        }
        var missing = await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/privacy", new { });
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);

        using var reception = TestApp.As(clinic.Id, "receptionist");
        var denied = await reception.PutAsJsonAsync($"/api/clinics/{clinic.Id}/privacy", new { callContentRetentionDays = 1 });
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Equal(Problems.Forbidden, (await TwilioFixture.JsonAsync(denied)).GetProperty("type").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await reception.GetAsync($"/api/clinics/{clinic.Id}/privacy")).StatusCode);
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var otherAdmin = TestApp.As(other.Id, "admin");
        Assert.Equal(HttpStatusCode.Forbidden, (await otherAdmin.GetAsync($"/api/clinics/{clinic.Id}/privacy")).StatusCode);
        Assert.Equal(30, await TestApp.ScalarAsync<int>("select call_content_retention_days from clinics where id = $1", clinic.Id));
    }

    [Fact]
    public async Task Retention_purges_a_backdated_calls_content_and_its_SMS_minimises_its_unconverted_lead_and_keeps_recent_ones()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 0);
        string oldCall = Guid.NewGuid().ToString(), newCall = Guid.NewGuid().ToString();
        string oldPhone = TwilioFixture.NewPhone(), newPhone = TwilioFixture.NewPhone();
        Assert.Equal(HttpStatusCode.OK, (await fx.VapiAsync(secret, Report(oldCall, oldPhone, "User: a facelift please, I'm Ottoline Brisk"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.VapiAsync(secret, Report(newCall, newPhone, "User: a facelift please, I'm Perpetua Vane"))).StatusCode);
        await fx.Fake.WaitForAsync(oldPhone, TimeSpan.FromSeconds(60));
        await fx.Fake.WaitForAsync(newPhone, TimeSpan.FromSeconds(60));
        await FollowUpTests.WaitUntilAsync(async () => await TestApp.ScalarAsync<long>(
            "select count(*) from sms_messages where clinic_id = $1 and twilio_sid is not null", clinic.Id) == 2);
        var oldLead = await TestApp.ScalarAsync<Guid>("select id from leads where clinic_id = $1 and call_id = $2", clinic.Id, oldCall);

        // 91 days ago, past the default 90.
        await TestApp.ExecAsync("update calls set created_at = now() - interval '91 days' where clinic_id = $1 and call_id = $2", clinic.Id, oldCall);
        await TestApp.ExecAsync("update leads set created_at = now() - interval '91 days' where clinic_id = $1 and call_id = $2", clinic.Id, oldCall);
        await TestApp.ExecAsync("""
            update sms_messages set created_at = now() - interval '91 days'
            where clinic_id = $1 and followup_id in (select f.id from lead_followups f where f.lead_id = $2)
            """, clinic.Id, oldLead);

        // Every app start runs a pass over the shared database, so another test's instance may purge these
        // rows before this pass does: what is asserted is the rows' state after a pass, not whose pass it was.
        var pass = await Worker.RunOnceAsync(default);
        Assert.True(pass.Purged.ContainsKey("call contents"));

        Assert.True(await TestApp.ScalarAsync<bool>(
            "select content is null and content_purged_at is not null and caller_hash is not null and ended_reason = 'customer-ended-call' from calls where clinic_id = $1 and call_id = $2",
            clinic.Id, oldCall));
        Assert.True(await TestApp.ScalarAsync<bool>(
            "select content is not null and content_purged_at is null from calls where clinic_id = $1 and call_id = $2", clinic.Id, newCall));
        Assert.True(await TestApp.ScalarAsync<bool>("""
            select content is null and phone_hash is null and external_ref is null and minimised_at is not null and procedure = 'Facelift'
            from leads where id = $1
            """, oldLead));
        Assert.Null(await TestApp.ScalarAsync<string>("select booking_link from lead_followups where lead_id = $1", oldLead));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from leads where clinic_id = $1 and minimised_at is null and content is not null", clinic.Id));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from sms_messages where clinic_id = $1 and content is null and content_purged_at is not null", clinic.Id));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from sms_messages where clinic_id = $1 and content is not null", clinic.Id));

        // The pass is visible in /healthz.
        using var admin = fx.As(clinic.Id, "admin");
        var health = await TestClinic.Json(await fx.App.CreateClient().GetAsync("/healthz"));
        Assert.StartsWith("ok: last pass", health.GetProperty("details").GetProperty("retention").GetString());

        // A shorter setting applies at the next pass.
        await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/privacy", new { callContentRetentionDays = 2 });
        await TestApp.ExecAsync("update calls set created_at = now() - interval '3 days' where clinic_id = $1 and call_id = $2", clinic.Id, newCall);
        await Worker.RunOnceAsync(default);
        Assert.True(await TestApp.ScalarAsync<bool>("select content is null from calls where clinic_id = $1 and call_id = $2", clinic.Id, newCall));
    }

    [Fact]
    public async Task A_minimised_leads_booking_link_is_no_longer_valid()
    {
        var clinic = await BookingPage.BookingPageTests.ClinicAsync(slots: 2);
        using var api = fx.As(clinic.Id);
        var link = await BookingPage.BookingPageTests.FollowUpAsync(api, clinic, TwilioFixture.NewPhone());
        await TestApp.ExecAsync("update leads set created_at = now() - interval '100 days' where id = $1", link.LeadId);
        await Worker.RunOnceAsync(default);
        using var browser = fx.App.CreateClient();
        var r = await browser.GetAsync(link.Path);
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        Assert.Contains("This link is no longer valid", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from patients where clinic_id = $1", clinic.Id));
    }

    /// <summary>Rows as the code before issue 13 wrote them: a call with its whole report, a lead, its follow-up and
    /// SMS in plaintext, and a plaintext opt-out. Inserted with triggers off (the guard is what new code meets;
    /// old rows predate it).</summary>
    static async Task InsertLegacyAsync(Guid clinicId, string callId, string phone, Guid leadId, Guid messageId, string name, string? stopped)
    {
        var report = JsonSerializer.Serialize(Message(callId, phone, $"User: I'm {name}, about a facelift"));
        await using var conn = await TestApp.AdminConnectionAsync();
        async Task Exec(string sql, params object[] args)
        {
            await using var cmd = new Npgsql.NpgsqlCommand(sql, conn);
            foreach (var a in args) cmd.Parameters.AddWithValue(a);
            await cmd.ExecuteNonQueryAsync();
        }
        await Exec("set session_replication_role = replica");
        await Exec("""
            insert into calls (clinic_id, call_id, customer_number, status, summary, report)
            values ($1, $2, $3, 'ended', $4, $5::jsonb)
            """, clinicId, callId, phone, name + " asked about a facelift", report);
        await Exec("insert into leads (id, clinic_id, call_id, phone, name, procedure, source) values ($1, $2, $3, $4, $5, 'Facelift', 'vapi')",
            leadId, clinicId, callId, phone, name);
        await Exec("""
            insert into lead_followups (id, clinic_id, lead_id, procedure, template, assigned_agent)
            values ($1, $2, $3, 'Facelift', 'facelift-guide', 'sarah_outbound')
            """, messageId, clinicId, leadId);
        await Exec("""
            insert into sms_messages (id, clinic_id, followup_id, to_phone, body, segments, encoding, status)
            values ($1, $2, $1, $3, $4, 1, 'GSM-7', 'sent')
            """, messageId, clinicId, phone, $"Hi {name}, about your facelift");
        if (stopped is not null)
            await Exec("insert into sms_opt_outs (clinic_id, phone, source) values ($1, $2, 'sms-keyword')", clinicId, stopped);
        await Exec("set session_replication_role = origin");
    }

    [Fact]
    public async Task The_backfill_seals_personal_values_stored_in_plaintext_before_issue_13_and_the_product_still_works_with_them()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync(slots: 2);
        var phone = TwilioFixture.NewPhone();
        var stopped = TwilioFixture.NewPhone();
        var callId = Guid.NewGuid().ToString();
        var leadId = Guid.NewGuid();
        var messageId = Guid.NewGuid();
        await InsertLegacyAsync(clinic.Id, callId, phone, leadId, messageId, "Winifred Osgood-Pell", stopped);
        // New code never writes plaintext into those columns.
        var refused = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => TestApp.ExecAsync(
            "update leads set name = 'Someone Else' where id = $1", leadId));
        Assert.Equal("23514", refused.SqlState);
        // Until the backfill reaches them, the old rows still work: the opt-out holds.
        using (var api = fx.As(clinic.Id))
        {
            var r = await TwilioFixture.JsonAsync(await api.PostAsJsonAsync("/functions/v1/trigger_followup_sms", new
            {
                eventType = "call_ended", callId = "call_" + Guid.NewGuid().ToString("N"), patientPhone = stopped, keyword = "Facelift",
            }));
            Assert.Equal("opted_out", r.GetProperty("reason").GetString());
        }

        var token = fx.App.Services.GetRequiredService<Frontdesk.FollowUp.BookingLinkToken>()
            .Create(clinic.Id, leadId, "Facelift", DateTimeOffset.UtcNow.AddDays(1));
        var before = await fx.App.CreateClient().GetAsync("/book/" + token);
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Contains("Hi Winifred Osgood-Pell", await before.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // (Another instance's pass may get there first: SKIP LOCKED shares the work, the end state is the same.)
        await Worker.RunOnceAsync(default);

        var hits = await PatientDataJourneyTests.ScanAsync(["Osgood-Pell", phone, stopped]);
        Assert.True(hits.Count == 0, "plaintext left: " + string.Join(", ", hits));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from sms_opt_outs where clinic_id = $1 and phone_hash = $2",
            clinic.Id, await CallerHashes.OfAsync(clinic.Id, stopped)));

        // The sealed values open again: the export shows them, the booking page greets the caller.
        await TestApp.ExecAsync("insert into patients (clinic_id, name, phone) values ($1, 'Winifred Osgood-Pell', $2)", clinic.Id, phone);
        var patientId = await TestApp.ScalarAsync<Guid>("select id from patients where clinic_id = $1", clinic.Id);
        using var admin = fx.As(clinic.Id, "admin");
        var export = await TestClinic.Json(await admin.GetAsync($"/api/patients/{clinic.Id}/{patientId}/export"));
        var call = Assert.Single(export.GetProperty("calls").EnumerateArray());
        Assert.Contains("Osgood-Pell", call.GetProperty("transcript").GetString(), StringComparison.Ordinal);
        Assert.Equal("Asked about a facelift.", call.GetProperty("summary").GetString());
        Assert.Equal("Winifred Osgood-Pell", Assert.Single(export.GetProperty("leads").EnumerateArray()).GetProperty("name").GetString());
        Assert.Equal("Hi Winifred Osgood-Pell, about your facelift", Assert.Single(export.GetProperty("messages").EnumerateArray()).GetProperty("body").GetString());
        Assert.False(export.GetProperty("smsOptedOut").GetBoolean());
        var page = await fx.App.CreateClient().GetAsync("/book/" + token);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("Hi Winifred Osgood-Pell", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Erasure_reaches_rows_stored_before_issue_13_sealed_by_the_backfill_or_not()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync(slots: 0);
        var phone = TwilioFixture.NewPhone();
        const string name = "Araminta Fettiplace-Orr";
        await InsertLegacyAsync(clinic.Id, Guid.NewGuid().ToString(), phone, Guid.NewGuid(), Guid.NewGuid(), name, stopped: null);
        using var api = fx.As(clinic.Id, "admin");
        var patient = await TestClinic.Json(await api.PostAsJsonAsync($"/api/clinics/{clinic.Id}/patients", new { name, phone }));
        Assert.NotEmpty(await PatientDataJourneyTests.ScanAsync([name, phone]));

        var r = await api.DeleteAsync($"/api/patients/{clinic.Id}/{patient.GetProperty("id").GetGuid()}");
        Assert.Equal(HttpStatusCode.NoContent, r.StatusCode);
        var hits = await PatientDataJourneyTests.ScanAsync([name, phone]);
        Assert.True(hits.Count == 0, "left after erasure: " + string.Join(", ", hits));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from leads where clinic_id = $1", clinic.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from sms_messages where clinic_id = $1", clinic.Id));
    }
}
