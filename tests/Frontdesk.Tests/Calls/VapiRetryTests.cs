using System.Net;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Npgsql;
using static Frontdesk.Tests.Calls.VapiPayloads;

namespace Frontdesk.Tests.Calls;

/// <summary>
/// Issue 15, "Lost on a webhook retry" and "A retried tool cancels a second appointment": a repeat
/// of a message is answered from what the first delivery committed, never acknowledged blindly, and
/// a tool re-issued by the model changes nothing twice.
/// </summary>
[Collection("twilio")]
public class VapiRetryTests(TwilioFixture fx)
{
    const string Rhinoplasty = "AI: How can I help?\nUser: I'm interested in rhinoplasty. Oh I have to go, bye.";

    // Regression (issue 15): a claim committed by an instance that died before answering made every
    // retry within 60 s an empty 200, and the caller never got their follow-up.
    [Fact]
    public async Task A_retried_report_whose_first_delivery_died_after_claiming_it_is_processed()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var call = NewCall();
        await TestApp.ExecAsync("insert into vapi_events (clinic_id, call_id, type, discriminator) values ($1, $2, 'end-of-call-report', '')",
            clinic.Id, call);

        var retry = await fx.VapiAsync(secret, Report(call, phone, Rhinoplasty, "2026-01-14T10:04:06.123Z"));
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        var sms = await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(10));
        Assert.Contains("/guides/rhinoplasty-guide.pdf", sms.Body);

        Assert.Equal(HttpStatusCode.OK, (await fx.VapiAsync(secret, Report(call, phone, Rhinoplasty, "2026-01-14T10:04:06.123Z"))).StatusCode);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from lead_followups where clinic_id = $1", clinic.Id));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from vapi_events where clinic_id = $1 and call_id = $2 and response is not null", clinic.Id, call));
    }

    [Fact]
    public async Task A_duplicate_of_a_report_still_being_processed_gets_a_retryable_503_and_a_retry_after_the_first_died_is_processed_once()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var call = NewCall();
        var report = Report(call, phone, Rhinoplasty, 1768385046123L);

        // The first delivery holds its claim in an open transaction, as an instance mid-event does.
        await using (var first = await TestApp.AdminConnectionAsync())
        {
            await using var tx = await first.BeginTransactionAsync();
            await using (var claim = new NpgsqlCommand(
                "insert into vapi_events (clinic_id, call_id, type, discriminator) values ($1, $2, 'end-of-call-report', '')", first, tx))
            {
                claim.Parameters.Add(new NpgsqlParameter { Value = clinic.Id });
                claim.Parameters.Add(new NpgsqlParameter { Value = call });
                await claim.ExecuteNonQueryAsync();
            }

            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));   // today's code waits forever
            var duplicate = await fx.VapiRawAsync(secret, System.Text.Json.JsonSerializer.Serialize(report), ct: bound.Token);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, duplicate.StatusCode);
            Assert.Equal(Problems.InProgress, (await TwilioFixture.JsonAsync(duplicate)).GetProperty("type").GetString());
            Assert.True(duplicate.Headers.RetryAfter?.Delta > TimeSpan.Zero, "a retryable answer says when to retry");

            await tx.RollbackAsync();   // the first instance died: its claim is gone with its transaction
        }

        Assert.Equal(HttpStatusCode.OK, (await fx.VapiAsync(secret, report)).StatusCode);
        await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, (await fx.VapiAsync(secret, report)).StatusCode);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from sms_messages where clinic_id = $1", clinic.Id));
    }

    static async Task<Guid> BookAsync(TwilioFixture fx, string secret, string phone, Guid slotId)
    {
        var booked = Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(secret,
            ToolCall(NewCall(), phone, "call_" + Guid.NewGuid().ToString("N"), "book_appointment", new { slotId, patientName = "Jane Doe" }))));
        Assert.False(booked.Error, booked.Text);
        return Guid.Parse(booked.Text[(booked.Text.LastIndexOf(' ') + 1)..].TrimEnd('.'));
    }

    // Regression (issue 15): "cancel my appointment" re-issued after a timeout cancelled the next
    // upcoming booking each time — the second one too.
    [Fact]
    public async Task Cancel_without_a_booking_id_never_guesses_between_two_appointments_and_a_reissue_cancels_nothing_more()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var first = await BookAsync(fx, secret, phone, clinic.SlotIds[0]);
        var second = await BookAsync(fx, secret, phone, clinic.SlotIds[2]);
        var call = NewCall();

        var ask = Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(secret, ToolCall(call, phone, "call_c1", "cancel_appointment", new { }))));
        var reissued = Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(secret, ToolCall(call, phone, "call_c2", "cancel_appointment", new { }))));
        Assert.Contains(first.ToString(), ask.Text);
        Assert.Contains(second.ToString(), ask.Text);
        Assert.Contains("Which one", ask.Text);
        Assert.Equal(ask, reissued);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1 and status = 'cancelled'", clinic.Id));

        var cancel = Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(secret,
            ToolCall(call, phone, "call_c3", "cancel_appointment", new { bookingId = first }))));
        var again = Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(secret,
            ToolCall(call, phone, "call_c4", "cancel_appointment", new { bookingId = first }))));
        Assert.StartsWith("Cancelled the appointment on ", cancel.Text);
        Assert.Equal(cancel, again);
        Assert.Equal("cancelled", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", first));
        Assert.Equal("confirmed", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", second));
    }

    [Fact]
    public async Task Cancel_reissued_after_it_cancelled_the_only_appointment_gets_the_same_answer()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var booking = await BookAsync(fx, secret, phone, clinic.SlotIds[1]);
        var call = NewCall();

        var cancelled = Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(secret, ToolCall(call, phone, "call_x1", "cancel_appointment", new { }))));
        var reissued = Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(secret, ToolCall(call, phone, "call_x2", "cancel_appointment", new { }))));
        Assert.StartsWith("Cancelled the appointment on ", cancelled.Text);
        Assert.Equal(cancelled, reissued);
        Assert.Equal("cancelled", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", booking));
    }

    [Fact]
    public async Task Book_reissued_concurrently_books_once_for_one_patient_and_every_reissue_hears_booked()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var call = NewCall();
        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(async i => Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(secret,
            ToolCall(call, phone, $"call_b{i}", "book_appointment", new { slotId = clinic.SlotIds[0], patientName = "Sam Smith" }))))));

        Assert.All(answers, a => Assert.StartsWith("Booked ", a.Text));
        Assert.Single(answers.Distinct());
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from patients where clinic_id = $1 and phone = $2", clinic.Id, phone));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task Health_says_reconciliation_is_off_while_no_clinic_has_a_Vapi_API_key()
    {
        using var client = fx.App.CreateClient();
        var until = DateTime.UtcNow.AddSeconds(30);
        string detail;
        while ((detail = (await TwilioFixture.JsonAsync(await client.GetAsync("/healthz"))).GetProperty("details")
                   .GetProperty(Frontdesk.Calls.VapiReconciliation.HealthName).GetString()!) == "starting")
        {
            Assert.True(DateTime.UtcNow < until, "the reconciliation worker never reported");
            await Task.Delay(100);
        }
        Assert.Equal("off: no clinic has a Vapi API key (set vapiApiKey on the clinic)", detail);
    }

    [Theory]
    [InlineData("tool-calls", "call_held")]       // the same tool call, still being processed elsewhere
    [InlineData("tool-effects", "")]              // another effect tool of the same phone call, still running
    public async Task A_tool_call_that_waits_on_another_delivery_hears_still_working_and_is_answered_for_real_on_retry(string heldType, string heldDiscriminator)
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var call = NewCall();
        var book = ToolCall(call, phone, "call_held", "book_appointment", new { slotId = clinic.SlotIds[3] });

        await using (var other = await TestApp.AdminConnectionAsync())
        {
            await using var tx = await other.BeginTransactionAsync();
            await using (var hold = new NpgsqlCommand("insert into vapi_events (clinic_id, call_id, type, discriminator) values ($1, $2, $3, $4)", other, tx))
            {
                foreach (var v in new object[] { clinic.Id, call, heldType, heldDiscriminator }) hold.Parameters.Add(new NpgsqlParameter { Value = v });
                await hold.ExecuteNonQueryAsync();
            }
            var waited = Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(secret, book)));
            Assert.Equal((Frontdesk.Calls.VapiIntake.StillWorking, true), waited);
            Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1", clinic.Id));
            await tx.RollbackAsync();
        }

        var answered = Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(secret, book)));
        Assert.StartsWith("Booked ", answered.Text);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task The_assistant_asks_Vapi_to_retry_answers_that_are_not_2xx()
    {
        var (_, secret) = await TwilioFixture.ClinicAsync();
        var assistant = (await TwilioFixture.JsonAsync(await fx.VapiAsync(secret, new { message = new { type = "assistant-request", call = new { id = NewCall() } } })))
            .GetProperty("assistant");
        var plan = assistant.GetProperty("server").GetProperty("backoffPlan");
        Assert.Equal("exponential", plan.GetProperty("type").GetString());
        Assert.True(plan.GetProperty("maxRetries").GetInt32() > 0);
    }
}
