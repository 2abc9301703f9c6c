using System.Net;
using System.Text.Json;
using Frontdesk.Calls;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Calls;

/// <summary>Real-shaped Vapi server messages (from Vapi's OpenAPI spec and live captures).</summary>
[Collection("twilio")]
public class VapiWebhookTests(TwilioFixture fx)
{
    static string NewCall() => Guid.NewGuid().ToString();

    /// <summary>An end-of-call report as Vapi sends it: outcomes at the top, a start-of-call snapshot nested.</summary>
    static object Report(string callId, string phone, string transcript, object timestamp, string endedReason = "customer-ended-call",
        object? analysis = null) => new
    {
        message = new
        {
            timestamp,
            type = "end-of-call-report",
            endedReason,
            startedAt = "2026-01-14T10:00:00.000Z",
            endedAt = "2026-01-14T10:04:05.000Z",
            cost = 0.1234,
            durationSeconds = 245.2,
            analysis = analysis ?? new { },
            artifact = new
            {
                transcript,
                messages = new object[]
                {
                    new { role = "bot", message = "Hello, thank you for calling.", time = 1768384800000L, secondsFromStart = 0.5 },
                    new { role = "user", message = transcript, time = 1768384805000L, secondsFromStart = 5.1 },
                },
                performanceMetrics = new
                {
                    turnLatencies = new object[]
                    {
                        new { modelLatency = 420, voiceLatency = 180, transcriberLatency = 90, endpointingLatency = 60, turnLatency = 750 },
                    },
                },
            },
            call = new { id = callId, orgId = "org_1", type = "inboundPhoneCall", status = "queued", cost = 0, phoneNumberId = (string?)null },
            customer = new { number = phone },
            phoneNumber = new { number = "+15005550006" },
        },
    };

    static object ToolCalls(string callId, string phone, string toolCallId, string name, object arguments, bool asString, long timestamp) => new
    {
        message = new
        {
            timestamp,
            type = "tool-calls",
            toolCallList = new[]
            {
                new { id = toolCallId, type = "function", function = new { name, arguments = asString ? JsonSerializer.Serialize(arguments) : arguments } },
            },
            toolWithToolCallList = new[]
            {
                new { type = "function", function = new { name }, toolCall = new { id = toolCallId, type = "function",
                    function = new { name, arguments = asString ? JsonSerializer.Serialize(arguments) : arguments } } },
            },
            call = new { id = callId, status = "in-progress" },
            customer = new { number = phone },
        },
    };

    [Fact]
    public async Task End_of_call_report_with_ISO_timestamp_delivered_twice_sends_one_SMS_and_keeps_its_outcome_with_the_content_sealed()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var call = NewCall();
        var report = Report(call, phone, "AI: How can I help?\nUser: I'm interested in rhinoplasty. Oh I have to go, bye.", "2026-01-14T10:04:06.123Z");

        var first = await Task.WhenAll(fx.VapiAsync(secret, report), fx.VapiAsync(secret, report));
        Assert.All(first, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var sms = await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(60));
        Assert.Contains("/guides/rhinoplasty-guide.pdf", sms.Body);
        Assert.Equal(HttpStatusCode.OK, (await fx.VapiAsync(secret, report)).StatusCode);
        await Task.Delay(1000);
        Assert.Single(fx.Fake.For(phone));

        // The outcome in columns, the latencies per turn; the report itself is not kept (issue 13) and the
        // transcript and number are sealed under the caller's key.
        Assert.Equal("customer-ended-call|ended|245.2|Rhinoplasty", await TestApp.ScalarAsync<string>("""
            select ended_reason || '|' || status || '|' || duration_seconds || '|' || procedure
            from calls where clinic_id = $1 and call_id = $2 and report is null and customer_number is null and summary is null
            """, clinic.Id, call));
        Assert.Equal(750d, await TestApp.ScalarAsync<double>("select turn_ms from call_turn_latencies where clinic_id = $1 and call_id = $2", clinic.Id, call));
        Assert.Equal(0.1234m, await TestApp.ScalarAsync<decimal>("select cost from calls where clinic_id = $1 and call_id = $2", clinic.Id, call));
        var content = await TestApp.ScalarAsync<byte[]>("select content from calls where clinic_id = $1 and call_id = $2", clinic.Id, call);
        Assert.DoesNotContain("rhinoplasty", System.Text.Encoding.UTF8.GetString(content!), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(await Frontdesk.Tests.Privacy.CallerHashes.OfAsync(clinic.Id, phone), await TestApp.ScalarAsync<byte[]>(
            "select caller_hash from calls where clinic_id = $1 and call_id = $2", clinic.Id, call));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from vapi_events where clinic_id = $1 and call_id = $2", clinic.Id, call));
    }

    [Fact]
    public async Task End_of_call_report_with_epoch_timestamp_and_structured_data_uses_its_procedure()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var report = Report(NewCall(), phone, "User: how much is it and how long is recovery", 1768385046123L,
            analysis: new { summary = "Asked about a facelift", structuredData = new { procedure = "Facelift", bookingConfirmed = false }, successEvaluation = "false" });
        Assert.Equal(HttpStatusCode.OK, (await fx.VapiAsync(secret, report)).StatusCode);
        var sms = await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(60));
        Assert.Contains("https://frontdesk.test/guides/facelift-guide.pdf", sms.Body);
    }

    [Theory]
    [InlineData("customer-did-not-answer")]
    [InlineData("voicemail")]
    public async Task Calls_that_reached_no_person_get_no_SMS(string endedReason)
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        Assert.Equal(HttpStatusCode.OK, (await fx.VapiAsync(secret, Report(NewCall(), phone, "rhinoplasty", "2026-01-14T10:04:06Z", endedReason))).StatusCode);
        await Task.Delay(1000);
        Assert.Empty(fx.Fake.For(phone));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from leads where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task A_call_that_booked_gets_no_SMS_and_a_repeated_tool_call_books_once()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var call = NewCall();

        var check = await TwilioFixture.JsonAsync(await fx.VapiAsync(secret,
            ToolCalls(call, phone, "call_tool_1", "check_availability", new { partOfDay = "morning" }, asString: true, 1768385046123L)));
        var checkResult = check.GetProperty("results")[0];
        Assert.Equal("call_tool_1", checkResult.GetProperty("toolCallId").GetString());
        var text = checkResult.GetProperty("result").GetString()!;
        Assert.DoesNotContain('\n', text);
        Assert.Contains(clinic.SlotIds[0].ToString(), text);

        var book = ToolCalls(call, phone, "call_tool_2", "book_appointment", new { slotId = clinic.SlotIds[0], patientName = "Jane Doe" }, asString: false, 1768385050000L);
        var booked = await TwilioFixture.JsonAsync(await fx.VapiAsync(secret, book));
        Assert.StartsWith("Booked ", booked.GetProperty("results")[0].GetProperty("result").GetString());
        var again = await TwilioFixture.JsonAsync(await fx.VapiAsync(secret, book));
        Assert.Equal(booked.GetProperty("results")[0].GetProperty("result").GetString(), again.GetProperty("results")[0].GetProperty("result").GetString());
        Assert.Equal("call_tool_2", again.GetProperty("results")[0].GetProperty("toolCallId").GetString());
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1 and call_id = $2 and source = 'phone'", clinic.Id, call));

        Assert.Equal(HttpStatusCode.OK, (await fx.VapiAsync(secret, Report(call, phone, "I'd like a rhinoplasty consultation. Booked, thanks!", "2026-01-14T10:04:06Z"))).StatusCode);
        await Task.Delay(1000);
        Assert.Empty(fx.Fake.For(phone));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from leads where clinic_id = $1", clinic.Id));

        // A second caller wanting the same slot hears alternatives, in words.
        var taken = await TwilioFixture.JsonAsync(await fx.VapiAsync(secret,
            ToolCalls(NewCall(), TwilioFixture.NewPhone(), "call_tool_3", "book_appointment", new { slotId = clinic.SlotIds[0] }, asString: true, 1768385060000L)));
        Assert.StartsWith("Sorry, that slot was just taken. I can offer ", taken.GetProperty("results")[0].GetProperty("result").GetString());

        // And the first caller can cancel their next appointment.
        var cancel = await TwilioFixture.JsonAsync(await fx.VapiAsync(secret,
            ToolCalls(NewCall(), phone, "call_tool_4", "cancel_appointment", new { }, asString: false, 1768385070000L)));
        Assert.StartsWith("Cancelled the appointment on ", cancel.GetProperty("results")[0].GetProperty("result").GetString());
        Assert.Equal("cancelled", await TestApp.ScalarAsync<string>("select status from bookings where clinic_id = $1 and call_id = $2", clinic.Id, call));
    }

    [Fact]
    public async Task Tool_errors_come_back_as_one_line_errors_and_legacy_function_calls_work()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var bad = await TwilioFixture.JsonAsync(await fx.VapiAsync(secret,
            ToolCalls(NewCall(), TwilioFixture.NewPhone(), "t1", "book_appointment", new { slotId = "tomorrow" }, asString: false, 1768385046123L)));
        Assert.Contains("slotId", bad.GetProperty("results")[0].GetProperty("error").GetString());
        var unknown = await TwilioFixture.JsonAsync(await fx.VapiAsync(secret,
            ToolCalls(NewCall(), TwilioFixture.NewPhone(), "t2", "no_such_tool", new { }, asString: true, 1768385046123L)));
        Assert.Equal("Unknown tool no_such_tool.", unknown.GetProperty("results")[0].GetProperty("error").GetString());

        var legacy = await TwilioFixture.JsonAsync(await fx.VapiAsync(secret, new
        {
            message = new
            {
                type = "function-call",
                timestamp = "2026-01-14T10:00:00Z",
                functionCall = new { name = "check_availability", parameters = new { } },
                call = new { id = NewCall() },
            },
        }));
        Assert.StartsWith("Free times: ", legacy.GetProperty("result").GetString());
        Assert.Contains(clinic.SlotIds[0].ToString(), legacy.GetProperty("result").GetString());
    }

    [Fact]
    public async Task Assistant_request_answers_an_assistant_subscribed_to_tool_calls_and_end_of_call_reports()
    {
        var (_, secret) = await TwilioFixture.ClinicAsync();
        var r = await fx.VapiAsync(secret, new { message = new { type = "assistant-request", timestamp = 1768385046123L, call = new { id = NewCall() }, customer = new { number = "+447911123456" } } });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var assistant = (await TwilioFixture.JsonAsync(r)).GetProperty("assistant");
        var messages = assistant.GetProperty("serverMessages").EnumerateArray().Select(m => m.GetString()).ToList();
        Assert.Contains("tool-calls", messages);
        Assert.Contains("end-of-call-report", messages);
        Assert.Equal("https://frontdesk.test/vapi/webhook", assistant.GetProperty("server").GetProperty("url").GetString());
        Assert.Equal(secret, assistant.GetProperty("server").GetProperty("headers").GetProperty("X-Vapi-Secret").GetString());
        Assert.False(string.IsNullOrEmpty(assistant.GetProperty("firstMessage").GetString()));
        var tools = assistant.GetProperty("model").GetProperty("tools").EnumerateArray().Where(t => t.GetProperty("type").GetString() == "function").ToList();
        var book = tools.Single(t => t.GetProperty("function").GetProperty("name").GetString() == "book_appointment");
        Assert.Equal("slotId", book.GetProperty("function").GetProperty("parameters").GetProperty("required")[0].GetString());
        Assert.Contains(tools, t => t.GetProperty("function").GetProperty("name").GetString() == "check_availability");

        var (_, withAssistant) = await TwilioFixture.ClinicAsync(assistantId: "asst_" + Guid.NewGuid().ToString("N"));
        var configured = await TwilioFixture.JsonAsync(await fx.VapiAsync(withAssistant, new { message = new { type = "assistant-request", call = new { id = NewCall() } } }));
        Assert.StartsWith("asst_", configured.GetProperty("assistantId").GetString());
        Assert.Contains("end-of-call-report", configured.GetProperty("assistantOverrides").GetProperty("serverMessages").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public async Task Status_updates_are_stored_and_unknown_types_get_200()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var call = NewCall();
        foreach (var status in new[] { "ringing", "in-progress", "in-progress" })
            Assert.Equal(HttpStatusCode.OK, (await fx.VapiAsync(secret, new { message = new { type = "status-update", status, timestamp = 1768385046123L, call = new { id = call, status } } })).StatusCode);
        Assert.Equal("in-progress", await TestApp.ScalarAsync<string>("select status from calls where clinic_id = $1 and call_id = $2", clinic.Id, call));
        Assert.Equal(2L, await TestApp.ScalarAsync<long>("select count(*) from vapi_events where clinic_id = $1 and call_id = $2", clinic.Id, call));
        var unknown = await fx.VapiAsync(secret, new { message = new { type = "speech-update", status = "started", role = "user", timestamp = "2026-01-14T10:00:00Z", call = new { id = call } } });
        Assert.Equal(HttpStatusCode.OK, unknown.StatusCode);
    }

    [Fact]
    public async Task Wrong_or_missing_secret_is_401_before_parsing_and_malformed_JSON_is_400_storing_nothing()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var call = NewCall();
        var report = JsonSerializer.Serialize(Report(call, TwilioFixture.NewPhone(), "rhinoplasty", "2026-01-14T10:04:06Z"));
        foreach (var presented in new[] { null, "wrong-" + secret, "" })
        {
            var r = await fx.VapiRawAsync(presented, report);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Equal(Problems.Unauthorized, (await TwilioFixture.JsonAsync(r)).GetProperty("type").GetString());
        }
        // Not even a body that is not JSON is looked at without the secret.
        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.VapiRawAsync("nope", "{not json")).StatusCode);
        var bearer = await fx.VapiRawAsync(null, report, r => r.Headers.Authorization = new("Bearer", "wrong"));
        Assert.Equal(HttpStatusCode.Unauthorized, bearer.StatusCode);

        var malformed = await fx.VapiRawAsync(secret, "{\"message\": {\"type\": \"end-of-call-report\", ");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal(Problems.MalformedRequest, (await TwilioFixture.JsonAsync(malformed)).GetProperty("type").GetString());
        var noType = await fx.VapiRawAsync(secret, "{\"hello\": 1}");
        Assert.Equal(Problems.Validation, (await TwilioFixture.JsonAsync(noType)).GetProperty("type").GetString());

        Assert.Equal(0L, await TestApp.ScalarAsync<long>("""
            select (select count(*) from vapi_events where clinic_id = $1) + (select count(*) from calls where clinic_id = $1)
                 + (select count(*) from leads where clinic_id = $1)
            """, clinic.Id));
        // Bearer with the right secret works.
        var ok = await fx.VapiRawAsync(null, report, r => r.Headers.Authorization = new("Bearer", secret));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task A_message_naming_another_assistant_is_refused()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync(assistantId: "asst_" + Guid.NewGuid().ToString("N"));
        var r = await fx.VapiAsync(secret, new { message = new { type = "status-update", status = "ringing", call = new { id = NewCall(), assistantId = "asst_someone_else" } } });
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        Assert.Equal(Problems.Forbidden, (await TwilioFixture.JsonAsync(r)).GetProperty("type").GetString());
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from calls where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task HMAC_clinics_need_a_fresh_valid_signature()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync(hmac: true);
        var body = JsonSerializer.Serialize(new { message = new { type = "status-update", status = "ringing", call = new { id = NewCall() } } });
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var stale = DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);

        void Sign(HttpRequestMessage r, string ts, string signature)
        {
            r.Headers.Add("x-timestamp", ts);
            r.Headers.Add("x-signature", signature);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.VapiRawAsync(secret, body)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.VapiRawAsync(secret, body, r => Sign(r, now, VapiSignature.Compute("other", now, System.Text.Encoding.UTF8.GetBytes(body))))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.VapiRawAsync(secret, body, r => Sign(r, stale, VapiSignature.Compute(secret, stale, System.Text.Encoding.UTF8.GetBytes(body))))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.VapiRawAsync(secret, body, r => Sign(r, now, VapiSignature.Compute(secret, now, System.Text.Encoding.UTF8.GetBytes(body))))).StatusCode);
        // Without the secret header, the clinic names itself and the signature alone authenticates.
        using var client = fx.App.CreateClient();
        using var req = new HttpRequestMessage(HttpMethod.Post, $"/vapi/webhook?clinic={clinic.Id}") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        Sign(req, now, VapiSignature.Compute(secret, now, System.Text.Encoding.UTF8.GetBytes(body)));
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(req)).StatusCode);
    }
}
