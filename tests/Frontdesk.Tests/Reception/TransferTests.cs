using System.Net;
using System.Text.Json;
using Frontdesk.Reception;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Reception;

/// <summary>Vapi's transfer-destination-request (the transferCall tool without destinations), real-shaped.</summary>
public class TransferTests
{
    static Task<long> CallbacksAsync(Guid clinic) => TestApp.ScalarAsync<long>("select count(*) from callbacks where clinic_id = $1", clinic);

    [Fact]
    public async Task While_open_a_warm_transfer_goes_to_the_front_desk_with_a_summary_for_the_person_who_answers()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        await ReceptionFixtures.PutSettingsAsync(clinic.Id, new { openingHours = JsonDocument.Parse(ReceptionFixtures.AlwaysOpen).RootElement, transferNumber = "+442071234567" });
        var answer = await ReceptionFixtures.VapiJsonAsync(secret, ReceptionFixtures.TransferRequest(Guid.NewGuid().ToString(), ReceptionFixtures.NewPhone()));

        var destination = answer.GetProperty("destination");
        Assert.Equal("number", destination.GetProperty("type").GetString());
        Assert.Equal("+442071234567", destination.GetProperty("number").GetString());
        Assert.False(string.IsNullOrWhiteSpace(destination.GetProperty("message").GetString()));
        var plan = destination.GetProperty("transferPlan");
        Assert.Equal("warm-transfer-wait-for-operator-to-speak-first-and-then-say-summary", plan.GetProperty("mode").GetString());
        var summary = plan.GetProperty("summaryPlan");
        Assert.True(summary.GetProperty("enabled").GetBoolean());
        Assert.Contains("{{transcript}}", summary.GetProperty("messages")[1].GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.False(answer.TryGetProperty("error", out _));
        Assert.Equal(0L, await CallbacksAsync(clinic.Id));
    }

    [Fact]
    public async Task A_blind_transfer_has_no_summary()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync("America/New_York");
        await ReceptionFixtures.PutSettingsAsync(clinic.Id, new
        {
            openingHours = JsonDocument.Parse(ReceptionFixtures.AlwaysOpen).RootElement, transferNumber = "+12125550123", transferMode = "blind",
        });
        var answer = await ReceptionFixtures.VapiJsonAsync(secret, ReceptionFixtures.TransferRequest(Guid.NewGuid().ToString(), "+12125550199"));
        var plan = answer.GetProperty("destination").GetProperty("transferPlan");
        Assert.Equal("blind-transfer", plan.GetProperty("mode").GetString());
        Assert.False(plan.TryGetProperty("summaryPlan", out _));
    }

    [Fact]
    public async Task While_closed_there_is_no_destination_the_caller_hears_when_they_will_be_called_back_and_one_callback_opens()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        await ReceptionFixtures.PutSettingsAsync(clinic.Id, ReceptionFixtures.ClosedToday("Europe/London"));
        var phone = ReceptionFixtures.NewPhone();
        var call = Guid.NewGuid().ToString();

        var answer = await ReceptionFixtures.VapiJsonAsync(secret, ReceptionFixtures.TransferRequest(call, phone));
        Assert.False(answer.TryGetProperty("destination", out _));
        // Only the members Vapi's schema lists for this answer (destination, error): the sentence rides in the error.
        Assert.Equal(["error"], answer.EnumerateObject().Select(m => m.Name));
        var spoken = answer.GetProperty("error").GetString()!;
        Assert.Contains("closed", spoken, StringComparison.Ordinal);
        Assert.Contains("tomorrow at 00:00", spoken, StringComparison.Ordinal);
        Assert.Contains(phone[^4..], spoken, StringComparison.Ordinal);
        Assert.Contains("callback", spoken, StringComparison.OrdinalIgnoreCase);

        // Asked again in the same call: the same one callback.
        await ReceptionFixtures.VapiJsonAsync(secret, ReceptionFixtures.TransferRequest(call, phone));
        using var staff = TestApp.As(clinic.Id, "receptionist");
        var list = await TestClinic.Json(await staff.GetAsync($"/api/clinics/{clinic.Id}/callbacks?status=open"));
        var callback = Assert.Single(list.EnumerateArray());
        Assert.Equal(call, callback.GetProperty("callId").GetString());
        Assert.Equal(phone, callback.GetProperty("phone").GetString());
        Assert.Equal("closed", callback.GetProperty("source").GetString());
        Assert.Equal("normal", callback.GetProperty("priority").GetString());
        Assert.Equal("open", callback.GetProperty("status").GetString());
        Assert.Contains("closed", callback.GetProperty("reason").GetString(), StringComparison.Ordinal);
        // The number is sealed, never stored in plaintext.
        var row = await TestApp.ScalarAsync<byte[]>("select content from callbacks where clinic_id = $1", clinic.Id);
        Assert.DoesNotContain(phone[1..], System.Text.Encoding.UTF8.GetString(row!), StringComparison.Ordinal);
        Assert.Equal(await Frontdesk.Tests.Privacy.CallerHashes.OfAsync(clinic.Id, phone),
            await TestApp.ScalarAsync<byte[]>("select caller_hash from callbacks where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task Open_without_a_transfer_number_asks_the_team_to_call_back_instead()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        await ReceptionFixtures.PutSettingsAsync(clinic.Id, new { openingHours = JsonDocument.Parse(ReceptionFixtures.AlwaysOpen).RootElement });
        var answer = await ReceptionFixtures.VapiJsonAsync(secret, ReceptionFixtures.TransferRequest(Guid.NewGuid().ToString(), ReceptionFixtures.NewPhone()));
        Assert.False(answer.TryGetProperty("destination", out _));
        Assert.Contains("call you back", answer.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("no_transfer_number", await TestApp.ScalarAsync<string>("select source from callbacks where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task A_withheld_number_while_closed_is_asked_for_a_number_and_nothing_is_stored()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        await ReceptionFixtures.PutSettingsAsync(clinic.Id, ReceptionFixtures.ClosedToday("Europe/London"));
        var answer = await ReceptionFixtures.VapiJsonAsync(secret, ReceptionFixtures.TransferRequest(Guid.NewGuid().ToString(), null));
        Assert.False(answer.TryGetProperty("destination", out _));
        Assert.Contains("best number", answer.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("callbackNumber", answer.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0L, await CallbacksAsync(clinic.Id));
    }

    [Theory]
    [InlineData("call.in-progress.error-transfer-failed")]
    [InlineData("call.forwarding.operator-busy")]
    [InlineData("customer-ended-call-during-transfer")]
    public async Task An_end_of_call_report_of_a_transfer_that_did_not_connect_opens_one_callback(string endedReason)
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        var phone = ReceptionFixtures.NewPhone();
        var call = Guid.NewGuid().ToString();
        var report = Frontdesk.Tests.Calls.VapiPayloads.Report(call, phone, "User: can I speak to someone please\nAI: putting you through", "2026-01-14T10:04:06Z", endedReason);
        Assert.Equal(HttpStatusCode.OK, (await ReceptionFixtures.VapiAsync(secret, report)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ReceptionFixtures.VapiAsync(secret, report)).StatusCode);

        using var staff = TestApp.As(clinic.Id, "doctor");
        var callback = Assert.Single((await TestClinic.Json(await staff.GetAsync($"/api/clinics/{clinic.Id}/callbacks"))).EnumerateArray());
        Assert.Equal("transfer_failed", callback.GetProperty("source").GetString());
        Assert.Equal(phone, callback.GetProperty("phone").GetString());
        Assert.Contains(endedReason, callback.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_transfer_from_a_withheld_number_has_nobody_to_ring_back_and_opens_nothing()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        var report = Frontdesk.Tests.Calls.VapiPayloads.Report(Guid.NewGuid().ToString(), "anonymous", "User: can I speak to someone", "2026-01-14T10:04:06Z",
            "call.in-progress.error-transfer-failed");
        Assert.Equal(HttpStatusCode.OK, (await ReceptionFixtures.VapiAsync(secret, report)).StatusCode);
        Assert.Equal(0L, await CallbacksAsync(clinic.Id));
        Assert.Equal("call.in-progress.error-transfer-failed", await TestApp.ScalarAsync<string>("select ended_reason from calls where clinic_id = $1", clinic.Id));
    }

    [Theory]
    [InlineData("assistant-forwarded-call")]
    [InlineData("customer-ended-call")]
    public async Task A_transfer_that_connected_or_an_ordinary_call_opens_no_callback(string endedReason)
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        var report = Frontdesk.Tests.Calls.VapiPayloads.Report(Guid.NewGuid().ToString(), ReceptionFixtures.NewPhone(), "User: thanks, bye", "2026-01-14T10:04:06Z", endedReason);
        Assert.Equal(HttpStatusCode.OK, (await ReceptionFixtures.VapiAsync(secret, report)).StatusCode);
        Assert.Equal(0L, await CallbacksAsync(clinic.Id));
    }

    [Fact]
    public void Every_failed_transfer_reason_is_one_of_vapis_ended_reasons_and_a_connected_transfer_is_not_one()
    {
        Assert.DoesNotContain("assistant-forwarded-call", TransferFailedCallback.FailedTransfer);
        Assert.All(TransferFailedCallback.FailedTransfer, r => Assert.Matches("^[a-z.-]+$", r));
    }
}
