using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Messaging;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Bench;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;

namespace Frontdesk.Tests.Calls;

/// <summary>
/// Issue 15: never lose, never duplicate. Each test has its own database, so the only workers that
/// can send its messages are the instances it starts; time is compressed by configuration (short
/// retry delays, no reconcile delay) and by backdating rows, never by waiting hours.
/// </summary>
public class OutboxReliabilityTests : IAsyncLifetime
{
    string _connectionString = "";
    FakeTwilio _fake = null!;

    public async Task InitializeAsync()
    {
        _connectionString = await TestCluster.NewDatabaseAsync("frontdesk_reliability");
        _fake = await FakeTwilio.StartAsync();
    }

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    /// <param name="retrySeconds">When set, every retry waits about this long (base and cap), so a test can
    /// catch the job between attempts and make it due itself.</param>
    WebApplicationFactory<Program> NewInstance(double reconcileDelaySeconds = 0, double twilioTimeoutSeconds = 1, double? retrySeconds = null)
    {
        var f = new FrontdeskFactory().WithWebHostBuilder(b =>
        {
            b.UseSetting("FRONTDESK_DATABASE_URL", _connectionString);
            b.UseSetting("FRONTDESK_APP_DATABASE_URL", new NpgsqlConnectionStringBuilder(TestCluster.AppConnectionString) { Database = new NpgsqlConnectionStringBuilder(_connectionString).Database }.ConnectionString);
            b.UseSetting("FRONTDESK_OUTBOX_RETRY_BASE_SECONDS", retrySeconds is { } r ? r.ToString(System.Globalization.CultureInfo.InvariantCulture) : "0.05");
            b.UseSetting("FRONTDESK_OUTBOX_RETRY_MAX_SECONDS", retrySeconds is { } m ? m.ToString(System.Globalization.CultureInfo.InvariantCulture) : "0.2");
            b.UseSetting("FRONTDESK_OUTBOX_POLL_SECONDS", "0.1");
            b.UseSetting("FRONTDESK_SMS_RECONCILE_DELAY_SECONDS", reconcileDelaySeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
            b.UseSetting("FRONTDESK_TWILIO_TIMEOUT_SECONDS", twilioTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
            TwilioFixture.Configure(b, _fake);
        });
        f.CreateClient().Dispose();
        return f;
    }

    static HttpClient As(WebApplicationFactory<Program> app, Guid clinic, string role = "admin")
    {
        var c = app.CreateClient();
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.Token(RequestClaims.ForClinic(clinic, "staff-" + role, role)));
        return c;
    }

    static async Task<Guid> ClinicAsync(WebApplicationFactory<Program> app)
    {
        using var svc = app.CreateClient();
        svc.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.ServiceToken());
        return (await TestClinic.Json(await svc.PostAsJsonAsync("/api/clinics", new { name = "Reliable Clinic", timezone = "Europe/London" })))
            .GetProperty("id").GetGuid();
    }

    static async Task<(Guid Message, string Phone)> TriggerAsync(WebApplicationFactory<Program> app, Guid clinic)
    {
        using var client = As(app, clinic);
        var phone = TwilioFixture.NewPhone();
        var r = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", new
        {
            eventType = "call_ended", callId = "call_" + Guid.NewGuid().ToString("N"), patientPhone = phone, patientName = "Jane Doe",
            keyword = "Rhinoplasty", bookingConfirmed = false,
        });
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        return ((await TwilioFixture.JsonAsync(r)).GetProperty("messageId").GetGuid(), phone);
    }

    async Task<T?> ScalarAsync<T>(string sql, params object[] args)
    {
        await using var c = new NpgsqlConnection(_connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        foreach (var a in args) cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        var v = await cmd.ExecuteScalarAsync();
        return v is null or DBNull ? default : (T)v;
    }

    Task<int> ExecAsync(string sql, params object[] args) => ScalarAsync<int>(sql + " returning 1", args);

    static async Task UntilAsync(Func<Task<bool>> condition, string what, int seconds = 60)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, what);
            await Task.Delay(50);
        }
    }

    Task<string?> SmsStatusAsync(Guid message) => ScalarAsync<string>("select status from sms_messages where id = $1", message);
    Task<string?> FollowUpStatusAsync(Guid message) =>
        ScalarAsync<string>("select f.status from lead_followups f join sms_messages m on m.followup_id = f.id where m.id = $1", message);
    Task<string?> JobStatusAsync(Guid message) =>
        ScalarAsync<string>("select status from outbox where payload->>'MessageId' = $1 order by id desc limit 1", message.ToString());

    // --- Lost after ~4 minutes of trouble ---------------------------------------------------------

    [Fact]
    public async Task A_follow_up_is_still_retried_after_ten_failed_attempts_while_inside_its_window()
    {
        await _fake.DownAsync();
        await using var app = NewInstance();
        var clinic = await ClinicAsync(app);
        var (message, phone) = await TriggerAsync(app, clinic);
        await UntilAsync(async () => await ScalarAsync<int>("select attempts from outbox where clinic_id = $1", clinic) >= 1, "no attempt");
        // Twenty failed attempts already, an hour into a Twilio outage: well inside the 24 h window.
        await ExecAsync("update outbox set attempts = 20, due_at = now() - interval '1 hour', created_at = now() - interval '1 hour' where clinic_id = $1", clinic);
        await UntilAsync(async () => await ScalarAsync<int>("select attempts from outbox where clinic_id = $1", clinic) >= 22, "not retried");
        // Still live, not given up. The worker retries every few tenths of a second, so a look may land mid-attempt.
        Assert.True(await JobStatusAsync(message) is "pending" or "processing", "the job was given up inside its window");
        Assert.True(await SmsStatusAsync(message) is "queued" or "sending", "the message was given up inside its window");

        await _fake.UpAsync();
        await _fake.WaitForAsync(phone, TimeSpan.FromSeconds(60));
        await UntilAsync(async () => await JobStatusAsync(message) == "done", "not done");
        Assert.Single(_fake.For(phone));
        Assert.Equal("sent", await FollowUpStatusAsync(message));
    }

    [Fact]
    public async Task A_follow_up_older_than_its_window_is_given_up_and_every_row_says_failed()
    {
        await _fake.DownAsync();
        await using var app = NewInstance();
        var clinic = await ClinicAsync(app);
        var (message, phone) = await TriggerAsync(app, clinic);
        await UntilAsync(async () => await ScalarAsync<int>("select attempts from outbox where clinic_id = $1", clinic) >= 1, "no attempt");
        // The outage has lasted a day and a bit: past the follow-up's 24 h window.
        await ExecAsync("update outbox set due_at = now() - interval '25 hours', created_at = now() - interval '25 hours' where clinic_id = $1", clinic);

        await UntilAsync(async () => await JobStatusAsync(message) == "failed", "the job was not given up");
        Assert.Equal("failed", await SmsStatusAsync(message));
        Assert.Contains("followup window", await ScalarAsync<string>("select error_message from sms_messages where id = $1", message));
        Assert.Equal("failed", await FollowUpStatusAsync(message));
        await _fake.UpAsync();
        await Task.Delay(500);
        Assert.Empty(_fake.For(phone));

        // …and a person sees it.
        using var staff = As(app, clinic, "receptionist");
        var items = (await TwilioFixture.JsonAsync(await staff.GetAsync($"/api/clinics/{clinic}/review"))).EnumerateArray().ToList();
        var item = Assert.Single(items);
        Assert.Equal(message.ToString(), item.GetProperty("id").GetString());
        Assert.Equal("failed", item.GetProperty("status").GetString());
        Assert.Equal("followup", item.GetProperty("purpose").GetString());
    }

    // --- Duplicated on Twilio 5xx ------------------------------------------------------------------

    [Fact]
    public async Task A_500_after_Twilio_created_the_message_is_looked_up_and_not_sent_twice()
    {
        await using var app = NewInstance();
        var clinic = await ClinicAsync(app);
        var phone = TwilioFixture.NewPhone();
        _fake.Fault(phone, TwilioFault.AcceptThen500);
        var message = await TriggerForAsync(app, clinic, phone);

        await UntilAsync(async () => await ScalarAsync<string>("select twilio_sid from sms_messages where id = $1", message) is not null, "not settled");
        var sent = Assert.Single(_fake.For(phone));
        Assert.Equal(sent.Sid, await ScalarAsync<string>("select twilio_sid from sms_messages where id = $1", message));
        Assert.Equal(1, _fake.AttemptsFor(phone));
        Assert.True(_fake.Lists >= 1, "the Messages list was never asked");
        Assert.Equal("sent", await FollowUpStatusAsync(message));
        await UntilAsync(async () => await JobStatusAsync(message) == "done", "not done");
    }

    [Fact]
    public async Task A_timeout_after_Twilio_created_the_message_is_settled_by_the_lookup_not_left_for_review()
    {
        // Twilio's timeout well above a loaded machine's loopback latency: the fake must have the message
        // before the client gives up, or there is nothing for the lookup to find.
        _fake.HangFor = TimeSpan.FromSeconds(60);
        await using var app = NewInstance(twilioTimeoutSeconds: 3);
        var clinic = await ClinicAsync(app);
        var phone = TwilioFixture.NewPhone();
        _fake.Fault(phone, TwilioFault.AcceptThenHang);
        var message = await TriggerForAsync(app, clinic, phone);

        await UntilAsync(async () => await ScalarAsync<string>("select twilio_sid from sms_messages where id = $1", message) is not null, "not settled");
        Assert.Single(_fake.For(phone));
        Assert.Equal(1, _fake.AttemptsFor(phone));
    }

    [Fact]
    public async Task A_503_before_Twilio_created_anything_is_sent_once_after_the_lookup_finds_nothing()
    {
        await using var app = NewInstance();
        var clinic = await ClinicAsync(app);
        var phone = TwilioFixture.NewPhone();
        _fake.Fault(phone, TwilioFault.Unavailable, TwilioFault.TooManyRequests);
        var message = await TriggerForAsync(app, clinic, phone);
        await _fake.WaitForAsync(phone, TimeSpan.FromSeconds(60));
        await UntilAsync(async () => await JobStatusAsync(message) == "done", "not done");
        Assert.Single(_fake.For(phone));
        Assert.Equal(3, _fake.AttemptsFor(phone));
        Assert.Equal(3, await ScalarAsync<int>("select attempts from sms_messages where id = $1", message));
    }

    static async Task<Guid> TriggerForAsync(WebApplicationFactory<Program> app, Guid clinic, string phone)
    {
        using var client = As(app, clinic);
        var r = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", new
        {
            eventType = "call_ended", callId = "call_" + Guid.NewGuid().ToString("N"), patientPhone = phone, patientName = "Jane Doe",
            keyword = "Rhinoplasty", bookingConfirmed = false,
        });
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        return (await TwilioFixture.JsonAsync(r)).GetProperty("messageId").GetGuid();
    }

    // --- Stranded on shutdown ------------------------------------------------------------------

    [Fact]
    public async Task A_send_in_flight_when_the_server_stops_finishes_and_its_outcome_is_recorded()
    {
        _fake.SlowFor = TimeSpan.FromSeconds(1.5);
        Guid message;
        string phone = TwilioFixture.NewPhone();
        _fake.Fault(phone, TwilioFault.SlowAccept);
        await using (var app = NewInstance(twilioTimeoutSeconds: 10))
        {
            var clinic = await ClinicAsync(app);
            message = await TriggerForAsync(app, clinic, phone);
            await UntilAsync(() => Task.FromResult(_fake.AttemptsFor(phone) >= 1), "the send did not start");
        }   // stops the host while Twilio is still answering

        var sent = Assert.Single(_fake.For(phone));
        Assert.Equal(sent.Sid, await ScalarAsync<string>("select twilio_sid from sms_messages where id = $1", message));
        Assert.Equal("sent", await FollowUpStatusAsync(message));
        Assert.Equal("done", await JobStatusAsync(message));
    }

    [Fact]
    public async Task A_status_callback_naming_our_message_settles_an_attempt_whose_answer_was_lost()
    {
        _fake.HangFor = TimeSpan.FromSeconds(60);
        // Reconciliation far away: only the callback can settle it. The timeout is well above a loaded
        // machine's loopback latency, so the fake has created the message before the client gives up.
        await using var app = NewInstance(reconcileDelaySeconds: 3600, twilioTimeoutSeconds: 3);
        var clinic = await ClinicAsync(app);
        var phone = TwilioFixture.NewPhone();
        _fake.Fault(phone, TwilioFault.AcceptThenHang);
        var message = await TriggerForAsync(app, clinic, phone);
        await UntilAsync(async () => await SmsStatusAsync(message) == "unknown", "not unknown");
        var created = Assert.Single(_fake.For(phone));
        Assert.Equal("https://frontdesk.test/twilio/status?m=" + message.ToString("N"), created.StatusCallback);

        var path = new Uri(created.StatusCallback!).PathAndQuery;
        (string, string)[] fields = [("MessageSid", created.Sid), ("MessageStatus", "sent"), ("AccountSid", FakeTwilio.AccountSid)];
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new FormUrlEncodedContent(fields.Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2))),
        };
        request.Headers.Add("X-Twilio-Signature", TwilioSignature.Compute(FakeTwilio.AuthToken, created.StatusCallback!,
            fields.Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2))));
        Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(request)).StatusCode);

        Assert.Equal("sent", await SmsStatusAsync(message));
        Assert.Equal(created.Sid, await ScalarAsync<string>("select twilio_sid from sms_messages where id = $1", message));
        Assert.Equal("sent", await FollowUpStatusAsync(message));
        await UntilAsync(async () => await JobStatusAsync(message) is "done" or "pending", "job lost");
        Assert.Single(_fake.For(phone));
    }

    // --- Quiet hours only at enqueue ----------------------------------------------------------

    [Fact]
    public async Task A_retry_that_falls_due_in_quiet_hours_waits_for_their_end_and_that_is_not_an_attempt()
    {
        await _fake.DownAsync();
        // Retries an hour apart: the first attempt is over (failed, its retry far off) before quiet hours
        // begin, so no attempt that passed the send-time rule earlier can still be on its way to Twilio.
        await using var app = NewInstance(retrySeconds: 3600);
        var clinic = await ClinicAsync(app);
        var (message, phone) = await TriggerAsync(app, clinic);
        await UntilAsync(async () => await ScalarAsync<bool>(
            "select status = 'pending' and attempts >= 1 and last_error is not null from outbox where clinic_id = $1", clinic), "no attempt");
        // Quiet hours begin now at the clinic (an hour either side, in its own zone).
        var local = TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById("Europe/London"));
        await ExecAsync("update clinics set quiet_start = $1::time, quiet_end = $2::time where id = $3",
            local.AddHours(-1).ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture),
            local.AddHours(1).ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture), clinic);
        await _fake.UpAsync();
        await ExecAsync("update outbox set next_attempt_at = now() where clinic_id = $1", clinic);   // the retry falls due, inside quiet hours
        await UntilAsync(async () => await ScalarAsync<bool>("select next_attempt_at > now() + interval '30 minutes' from outbox where clinic_id = $1", clinic),
            "the retry was not moved out of quiet hours");
        var attempts = await ScalarAsync<int>("select attempts from sms_messages where id = $1", message);
        var jobAttempts = await ScalarAsync<int>("select attempts from outbox where clinic_id = $1", clinic);
        await ExecAsync("update outbox set next_attempt_at = now() where clinic_id = $1", clinic);   // due again, still quiet
        await UntilAsync(async () => await ScalarAsync<bool>("select next_attempt_at > now() + interval '30 minutes' from outbox where clinic_id = $1", clinic),
            "the retry was not moved out of quiet hours again");
        Assert.Empty(_fake.For(phone));
        Assert.Equal(attempts, await ScalarAsync<int>("select attempts from sms_messages where id = $1", message));
        Assert.Equal(jobAttempts, await ScalarAsync<int>("select attempts from outbox where clinic_id = $1", clinic));
        Assert.Equal("quiet hours", await ScalarAsync<string>("select last_error from outbox where clinic_id = $1", clinic));
        Assert.Equal("queued", await SmsStatusAsync(message));
    }

    // --- Nothing reads review -------------------------------------------------------------------

    async Task<(Guid Clinic, Guid Message, string Phone)> ReviewedAsync(WebApplicationFactory<Program> app, string status)
    {
        var clinic = await ClinicAsync(app);
        var phone = TwilioFixture.NewPhone();
        _fake.Script(phone, (400, 21211));
        var message = await TriggerForAsync(app, clinic, phone);
        await UntilAsync(async () => await SmsStatusAsync(message) == "failed", "not failed");
        if (status != "failed")
        {
            await ExecAsync("update sms_messages set status = $1 where id = $2", status, message);
            await ExecAsync("update outbox set status = 'review' where payload->>'MessageId' = $1", message.ToString());
        }
        return (clinic, message, phone);
    }

    [Fact]
    public async Task Review_lists_what_needs_a_person_and_resend_sends_a_new_message_once()
    {
        await using var app = NewInstance();
        var (clinic, message, phone) = await ReviewedAsync(app, "review");
        using var staff = As(app, clinic, "receptionist");
        var items = (await TwilioFixture.JsonAsync(await staff.GetAsync($"/api/clinics/{clinic}/review"))).EnumerateArray().ToList();
        var item = Assert.Single(items);
        Assert.Equal("sms", item.GetProperty("kind").GetString());
        Assert.Equal("review", item.GetProperty("status").GetString());
        Assert.Equal(["resend", "mark_sent", "cancel"], item.GetProperty("actions").EnumerateArray().Select(a => a.GetString()));

        var r = await staff.PostAsJsonAsync($"/api/clinics/{clinic}/review/{message}", new { action = "resend" });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var body = await TwilioFixture.JsonAsync(r);
        var fresh = body.GetProperty("newMessageId").GetGuid();
        await _fake.WaitForAsync(phone, TimeSpan.FromSeconds(60));
        await UntilAsync(async () => await ScalarAsync<string>("select twilio_sid from sms_messages where id = $1", fresh) is not null, "resend not recorded");
        Assert.Single(_fake.For(phone));
        Assert.Equal("sent", await FollowUpStatusAsync(fresh));
        Assert.Empty((await TwilioFixture.JsonAsync(await staff.GetAsync($"/api/clinics/{clinic}/review"))).EnumerateArray());
        Assert.Equal("staff-receptionist", await ScalarAsync<string>("select reviewed_by from sms_messages where id = $1", message));
        Assert.Equal(1L, await ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'review_resend' and entity_id = $2",
            clinic, message.ToString()));

        // Decided once: a second decision is a conflict.
        var again = await staff.PostAsJsonAsync($"/api/clinics/{clinic}/review/{message}", new { action = "cancel" });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(Problems.Conflict, (await TwilioFixture.JsonAsync(again)).GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("mark_sent", "sent", "sent")]
    [InlineData("cancel", "cancelled", "cancelled")]
    public async Task Review_mark_sent_and_cancel_close_the_message_and_its_follow_up(string action, string smsStatus, string followUpStatus)
    {
        await using var app = NewInstance();
        var (clinic, message, phone) = await ReviewedAsync(app, "review");
        using var admin = As(app, clinic, "admin");
        var r = await admin.PostAsJsonAsync($"/api/clinics/{clinic}/review/{message}", new { action });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(smsStatus, (await TwilioFixture.JsonAsync(r)).GetProperty("status").GetString());
        Assert.Equal(smsStatus, await SmsStatusAsync(message));
        Assert.Equal(followUpStatus, await FollowUpStatusAsync(message));
        Assert.Equal(action == "cancel" ? "cancelled" : "done", await JobStatusAsync(message));
        await Task.Delay(300);
        Assert.Empty(_fake.For(phone));
    }

    [Fact]
    public async Task Review_is_for_admins_and_receptionists_of_the_clinic_only()
    {
        await using var app = NewInstance();
        var (clinic, message, _) = await ReviewedAsync(app, "failed");
        var other = await ClinicAsync(app);

        using var doctor = As(app, clinic, "doctor");
        var denied = await doctor.GetAsync($"/api/clinics/{clinic}/review");
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Equal(Problems.Forbidden, (await TwilioFixture.JsonAsync(denied)).GetProperty("type").GetString());
        var deniedPost = await doctor.PostAsJsonAsync($"/api/clinics/{clinic}/review/{message}", new { action = "cancel" });
        Assert.Equal(HttpStatusCode.Forbidden, deniedPost.StatusCode);

        using var stranger = As(app, other, "admin");
        var foreign = await stranger.GetAsync($"/api/clinics/{clinic}/review");
        Assert.Equal(Problems.CrossTenant, (await TwilioFixture.JsonAsync(foreign)).GetProperty("type").GetString());
        // Their own queue is empty, and our message id is unknown there.
        Assert.Empty((await TwilioFixture.JsonAsync(await stranger.GetAsync($"/api/clinics/{other}/review"))).EnumerateArray());
        var notTheirs = await stranger.PostAsJsonAsync($"/api/clinics/{other}/review/{message}", new { action = "cancel" });
        Assert.Equal(HttpStatusCode.NotFound, notTheirs.StatusCode);
        Assert.Equal(Problems.NotFound, (await TwilioFixture.JsonAsync(notTheirs)).GetProperty("type").GetString());

        using var admin = As(app, clinic, "admin");
        var bad = await admin.PostAsJsonAsync($"/api/clinics/{clinic}/review/{message}", new { action = "delete" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(Problems.Validation, (await TwilioFixture.JsonAsync(bad)).GetProperty("type").GetString());
        Assert.Equal("failed", await SmsStatusAsync(message));
        Assert.Equal(0L, await ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action like 'review_%'", clinic));
    }

    [Fact]
    public async Task Resending_to_a_number_that_opted_out_is_refused()
    {
        await using var app = NewInstance();
        var (clinic, message, phone) = await ReviewedAsync(app, "failed");
        // Opt-outs are kept by the number's hash (issue 13): the message's own to_hash is that number's.
        await ExecAsync("insert into sms_opt_outs (clinic_id, phone_hash, source) select clinic_id, to_hash, 'test' from sms_messages where id = $1", message);
        using var admin = As(app, clinic, "admin");
        var r = await admin.PostAsJsonAsync($"/api/clinics/{clinic}/review/{message}", new { action = "resend" });
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        Assert.Contains("opted out", (await TwilioFixture.JsonAsync(r)).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Health_details_and_metrics_carry_the_review_and_failed_counts()
    {
        await using var app = NewInstance();
        await ReviewedAsync(app, "review");
        await ReviewedAsync(app, "failed");
        await UntilAsync(async () => await ScalarAsync<long>("select count(*) from outbox where status in ('pending', 'processing')") == 0, "jobs still running");
        var monitor = (Frontdesk.Review.OutboxMonitor)app.Services.GetService(typeof(Frontdesk.Review.OutboxMonitor))!;
        var counts = await monitor.RefreshAsync(CancellationToken.None);
        Assert.Equal(1, counts.Review);
        Assert.Equal(1, counts.Failed);
        using var client = app.CreateClient();
        var health = await TwilioFixture.JsonAsync(await client.GetAsync("/healthz"));
        Assert.StartsWith("review 1, failed 1, pending 0", health.GetProperty("details").GetProperty("outbox").GetString());
    }
}
