using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Frontdesk.Bench;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;

namespace Frontdesk.Tests.Calls;

/// <summary>
/// The SMS sender's answers to what goes wrong between queueing a message and Twilio having it:
/// an instance that died mid-request, a lookup Twilio cannot answer, a sender number that went
/// away, an opt-out or an erasure that arrived while the message waited, throttling that outlasts
/// the message's window, a job whose payload cannot be read. Each test has its own database, so the
/// only workers that can send its messages are the instances it starts.
/// </summary>
public class SmsSenderFaultTests : IAsyncLifetime
{
    string _connectionString = "";
    FakeTwilio _fake = null!;

    public async Task InitializeAsync()
    {
        _connectionString = await TestCluster.NewDatabaseAsync("frontdesk_senderfaults");
        _fake = await FakeTwilio.StartAsync();
    }

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    WebApplicationFactory<Program> NewInstance(double reconcileDelaySeconds = 0, string? from = FakeTwilio.From)
    {
        var f = new FrontdeskFactory().WithWebHostBuilder(b =>
        {
            b.UseSetting("FRONTDESK_DATABASE_URL", _connectionString);
            b.UseSetting("FRONTDESK_APP_DATABASE_URL", new NpgsqlConnectionStringBuilder(TestCluster.AppConnectionString) { Database = new NpgsqlConnectionStringBuilder(_connectionString).Database }.ConnectionString);
            b.UseSetting("FRONTDESK_OUTBOX_RETRY_BASE_SECONDS", "0.05");
            b.UseSetting("FRONTDESK_OUTBOX_RETRY_MAX_SECONDS", "0.2");
            b.UseSetting("FRONTDESK_OUTBOX_POLL_SECONDS", "0.1");
            b.UseSetting("FRONTDESK_TWILIO_TIMEOUT_SECONDS", "30");
            TwilioFixture.Configure(b, _fake);
            b.UseSetting("FRONTDESK_SMS_RECONCILE_DELAY_SECONDS", reconcileDelaySeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
            b.UseSetting("TWILIO_FROM", from ?? "");
        });
        f.CreateClient().Dispose();
        return f;
    }

    static async Task<Guid> ClinicAsync(WebApplicationFactory<Program> app)
    {
        using var svc = app.CreateClient();
        svc.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.ServiceToken());
        return (await TestClinic.Json(await svc.PostAsJsonAsync("/api/clinics", new { name = "Sender Clinic", timezone = "Europe/London" })))
            .GetProperty("id").GetGuid();
    }

    static async Task<Guid> TriggerAsync(WebApplicationFactory<Program> app, Guid clinic, string phone)
    {
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.Token(RequestClaims.ForClinic(clinic, "staff-admin", "admin")));
        var r = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", new
        {
            eventType = "call_ended", callId = "call_" + Guid.NewGuid().ToString("N"), patientPhone = phone, patientName = "Jane Doe",
            keyword = "Rhinoplasty", bookingConfirmed = false,
        });
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        return (await TwilioFixture.JsonAsync(r)).GetProperty("messageId").GetGuid();
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

    /// <summary>Waits (generously: the machine may be loaded) for a condition on the database.</summary>
    static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, what);
            await Task.Delay(50);
        }
    }

    Task<string?> SmsStatusAsync(Guid message) => ScalarAsync<string>("select status from sms_messages where id = $1", message);
    Task<string?> SmsErrorAsync(Guid message) => ScalarAsync<string>("select error_message from sms_messages where id = $1", message);
    Task<string?> FollowUpStatusAsync(Guid message) =>
        ScalarAsync<string>("select f.status from lead_followups f join sms_messages m on m.followup_id = f.id where m.id = $1", message);
    Task<string?> JobStatusAsync(Guid message) =>
        ScalarAsync<string>("select status from outbox where payload->>'MessageId' = $1 order by id desc limit 1", message.ToString());
    Task<string?> JobErrorAsync(Guid message) =>
        ScalarAsync<string>("select last_error from outbox where payload->>'MessageId' = $1 order by id desc limit 1", message.ToString());

    /// <summary>A message whose first attempt reached Twilio and answered 500: 'unknown', its lookup
    /// an hour away (this instance is then stopped).</summary>
    async Task<(Guid Clinic, Guid Message, string Phone)> UnknownAsync()
    {
        var phone = TwilioFixture.NewPhone();
        _fake.Fault(phone, TwilioFault.AcceptThen500);
        await using var first = NewInstance(reconcileDelaySeconds: 3600);
        var clinic = await ClinicAsync(first);
        var message = await TriggerAsync(first, clinic, phone);
        await UntilAsync(async () => await SmsStatusAsync(message) == "unknown" && await JobStatusAsync(message) == "pending", "the attempt was not recorded as unknown");
        Assert.Single(_fake.For(phone));
        return (clinic, message, phone);
    }

    [Fact]
    public async Task A_message_left_sending_by_an_instance_that_died_mid_request_is_looked_up_and_not_sent_again()
    {
        var (_, message, phone) = await UnknownAsync();
        // As a crash leaves it: the attempt began (status 'sending'), the job claimed and its lease run out.
        await ExecAsync("update sms_messages set status = 'sending' where id = $1", message);
        await ExecAsync("update outbox set status = 'processing', locked_until = now() - interval '1 second' where payload->>'MessageId' = $1", message.ToString());

        await using var next = NewInstance();
        await UntilAsync(async () => await JobStatusAsync(message) == "done", "the job was not taken over");
        var sent = Assert.Single(_fake.For(phone));
        Assert.Equal(1, _fake.AttemptsFor(phone));
        Assert.Equal(sent.Sid, await ScalarAsync<string>("select twilio_sid from sms_messages where id = $1", message));
        Assert.Equal("sent", await FollowUpStatusAsync(message));
    }

    [Fact]
    public async Task A_message_left_sending_that_Twilio_never_got_is_sent_once_after_the_lookup_finds_nothing()
    {
        await _fake.DownAsync();
        var phone = TwilioFixture.NewPhone();
        Guid message;
        await using (var first = NewInstance())
        {
            var clinic = await ClinicAsync(first);
            message = await TriggerAsync(first, clinic, phone);
            await UntilAsync(async () => await ScalarAsync<int>("select attempts from sms_messages where id = $1", message) >= 1, "no attempt");
        }
        await ExecAsync("update sms_messages set status = 'sending', attempt_started_at = now() where id = $1", message);
        await ExecAsync("update outbox set status = 'processing', locked_until = now() - interval '1 second', next_attempt_at = now() where payload->>'MessageId' = $1", message.ToString());
        await _fake.UpAsync();

        await using var next = NewInstance();
        await UntilAsync(async () => await JobStatusAsync(message) == "done", "not sent");
        Assert.Single(_fake.For(phone));
        Assert.True(_fake.Lists >= 1, "sent again without asking Twilio first");
        Assert.Equal("sent", await FollowUpStatusAsync(message));
    }

    [Fact]
    public async Task A_lookup_Twilio_cannot_answer_is_retried_and_past_the_window_the_message_waits_for_a_person()
    {
        var (clinic, message, phone) = await UnknownAsync();
        _fake.FailNextLists(Enumerable.Repeat(TwilioListFault.Unavailable, 1000).ToArray());
        await ExecAsync("update outbox set next_attempt_at = now() where payload->>'MessageId' = $1", message.ToString());

        await using var next = NewInstance();
        await UntilAsync(async () => await JobErrorAsync(message) == "lookup: 20503: Service unavailable", "the failed lookup was not retried");
        // Waiting for its next attempt, or already in it: retried, not given up.
        Assert.True(await JobStatusAsync(message) is "pending" or "processing");
        Assert.Equal("unknown", await SmsStatusAsync(message));

        // A day and more of failed lookups: past the follow-up's window, a person decides.
        await ExecAsync("update outbox set due_at = now() - interval '25 hours', next_attempt_at = now() where payload->>'MessageId' = $1", message.ToString());
        await UntilAsync(async () => await JobStatusAsync(message) == "review", "not held for review");
        Assert.Equal("review", await SmsStatusAsync(message));
        Assert.Equal("outcome unknown and Twilio could not be asked before the window ended: 20503: Service unavailable", await SmsErrorAsync(message));
        Assert.Equal("review", await FollowUpStatusAsync(message));
        Assert.Single(_fake.For(phone));
        Assert.Equal(1L, await ScalarAsync<long>("select count(*) from sms_messages where clinic_id = $1 and status = 'review'", clinic));
    }

    [Fact]
    public async Task An_unknown_outcome_with_no_sender_number_to_look_it_up_by_waits_for_a_person()
    {
        var (_, message, phone) = await UnknownAsync();
        await ExecAsync("update outbox set next_attempt_at = now() where payload->>'MessageId' = $1", message.ToString());
        // TWILIO_FROM was removed meanwhile, and the clinic has no number of its own.
        await using var next = NewInstance(from: null);
        await UntilAsync(async () => await JobStatusAsync(message) == "review", "not held for review");
        Assert.Equal("outcome unknown and no sender number to look it up by", await SmsErrorAsync(message));
        Assert.Single(_fake.For(phone));
    }

    [Fact]
    public async Task Without_any_sender_number_a_message_fails_at_once_with_the_reason_and_nothing_reaches_Twilio()
    {
        await using var app = NewInstance(from: null);
        var clinic = await ClinicAsync(app);
        var phone = TwilioFixture.NewPhone();
        var message = await TriggerAsync(app, clinic, phone);
        await UntilAsync(async () => await JobStatusAsync(message) == "failed", "not failed");
        Assert.Equal("failed", await SmsStatusAsync(message));
        Assert.Equal("no sender: set TWILIO_FROM or the clinic's smsFrom", await SmsErrorAsync(message));
        Assert.Equal("no sender number", await JobErrorAsync(message));
        Assert.Equal("failed", await FollowUpStatusAsync(message));
        Assert.Equal(0, _fake.AttemptsFor(phone));
    }

    [Fact]
    public async Task An_opt_out_that_arrives_while_a_message_waits_for_Twilio_is_honoured_at_send_time()
    {
        await _fake.DownAsync();
        await using var app = NewInstance();
        var clinic = await ClinicAsync(app);
        var phone = TwilioFixture.NewPhone();
        var message = await TriggerAsync(app, clinic, phone);
        await UntilAsync(async () => await ScalarAsync<int>("select attempts from sms_messages where id = $1", message) >= 1, "no attempt");
        // The caller texts STOP meanwhile (kept by the number's hash, issue 13).
        await ExecAsync("insert into sms_opt_outs (clinic_id, phone_hash, source) select clinic_id, to_hash, 'test' from sms_messages where id = $1", message);
        await _fake.UpAsync();

        await UntilAsync(async () => await JobStatusAsync(message) == "failed", "not stopped");
        Assert.Equal("failed", await SmsStatusAsync(message));
        Assert.Equal("recipient opted out", await SmsErrorAsync(message));
        Assert.Equal(21610, await ScalarAsync<int>("select error_code from sms_messages where id = $1", message));
        Assert.Empty(_fake.For(phone));
    }

    [Fact]
    public async Task A_message_whose_content_was_erased_while_it_waited_is_given_up_never_sent()
    {
        await _fake.DownAsync();
        await using var app = NewInstance();
        var clinic = await ClinicAsync(app);
        var phone = TwilioFixture.NewPhone();
        var message = await TriggerAsync(app, clinic, phone);
        await UntilAsync(async () => await ScalarAsync<int>("select attempts from sms_messages where id = $1", message) >= 1, "no attempt");
        // As an erasure or the retention worker leaves a row: recipient and text gone.
        await ExecAsync("update sms_messages set content = null, to_hash = null, content_purged_at = now() where id = $1", message);
        await _fake.UpAsync();

        await UntilAsync(async () => await JobStatusAsync(message) == "failed", "not given up");
        Assert.Equal("failed", await SmsStatusAsync(message));
        Assert.Equal("recipient erased or content purged", await SmsErrorAsync(message));
        Assert.Empty(_fake.For(phone));
    }

    [Fact]
    public async Task Throttling_whose_wait_outlasts_the_window_gives_the_message_up_with_the_last_error()
    {
        _fake.RetryAfterSeconds = 3600;   // Twilio asks for an hour
        var phone = TwilioFixture.NewPhone();
        _fake.Fault(phone, TwilioFault.TooManyRequests, TwilioFault.TooManyRequests);
        await using var app = NewInstance();
        var clinic = await ClinicAsync(app);
        var message = await TriggerAsync(app, clinic, phone);
        await UntilAsync(async () => await ScalarAsync<bool>(
            "select next_attempt_at > now() + interval '50 minutes' from outbox where payload->>'MessageId' = $1", message.ToString()),
            "Retry-After was not honoured");
        Assert.Equal("queued", await SmsStatusAsync(message));
        Assert.Equal("20429: Too Many Requests", await SmsErrorAsync(message));

        // Half an hour of the 24 h window left, and Twilio asks for an hour again: not worth waiting.
        await ExecAsync("update outbox set due_at = now() - interval '23 hours 30 minutes', next_attempt_at = now() where payload->>'MessageId' = $1", message.ToString());
        await UntilAsync(async () => await JobStatusAsync(message) == "failed", "not given up");
        Assert.Equal("gave up: not sent within the followup window; last error 20429: Too Many Requests", await SmsErrorAsync(message));
        Assert.Equal(20429, await ScalarAsync<int>("select error_code from sms_messages where id = $1", message));
        Assert.Equal("failed", await FollowUpStatusAsync(message));
        Assert.Empty(_fake.For(phone));
    }

    [Theory]
    [InlineData("null", "payload has no messageId")]
    [InlineData("{}", "message not found")]
    [InlineData("{\"MessageId\": \"7b0e2c1a-0000-4000-8000-000000000000\"}", "message not found")]
    public async Task A_job_that_names_no_message_fails_with_the_reason(string payload, string error)
    {
        await using var app = NewInstance();
        var clinic = await ClinicAsync(app);
        var job = await ScalarAsync<long>("insert into outbox (clinic_id, kind, payload) values ($1, 'sms', $2::jsonb) returning id", clinic, payload);
        await UntilAsync(async () => await ScalarAsync<string>("select status from outbox where id = $1", job) == "failed", "not failed");
        Assert.Equal(error, await ScalarAsync<string>("select last_error from outbox where id = $1", job));
    }

    [Fact]
    public async Task A_job_whose_payload_cannot_be_read_is_given_up_after_the_maximum_job_age_instead_of_stalling_the_worker()
    {
        await using var app = NewInstance();
        var clinic = await ClinicAsync(app);
        var job = await ScalarAsync<long>(
            "insert into outbox (clinic_id, kind, payload) values ($1, 'sms', '{\"MessageId\": \"not-a-uuid\"}'::jsonb) returning id", clinic);
        await UntilAsync(async () => await ScalarAsync<string>("select last_error from outbox where id = $1", job) == "JsonException", "not retried");

        // Two days of a handler that cannot read it (the default maximum age is 48 h): failed, for a person.
        await ExecAsync("update outbox set due_at = now() - interval '49 hours', next_attempt_at = now() where id = $1", job);
        await UntilAsync(async () => await ScalarAsync<string>("select status from outbox where id = $1", job) == "failed", "never given up");
        Assert.StartsWith("gave up after ", await ScalarAsync<string>("select last_error from outbox where id = $1", job));

        // …and the worker goes on with the next message.
        var phone = TwilioFixture.NewPhone();
        var message = await TriggerAsync(app, clinic, phone);
        await UntilAsync(async () => await JobStatusAsync(message) == "done", "the next message was not sent");
        Assert.Single(_fake.For(phone));
    }
}
