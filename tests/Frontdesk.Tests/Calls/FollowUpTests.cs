using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Bench;

namespace Frontdesk.Tests.Calls;

[Collection("twilio")]
public class FollowUpTests(TwilioFixture fx)
{
    static object CallEnded(string callId, string phone, string? keyword = "Rhinoplasty", bool bookingConfirmed = false, string? transcript = null) => new
    {
        eventType = "call_ended",
        callId,
        voxanAgentId = "voxan_001",
        patientPhone = phone,
        patientName = "Jane Doe",
        leadId = "lead_xyz_789",
        keyword,
        bookingConfirmed,
        callDuration = 245,
        transcript = transcript ?? "interested in rhinoplasty... hung up",
    };

    static string NewCall() => "call_" + Guid.NewGuid().ToString("N");

    [Fact]
    public async Task Seed_checklist_hang_up_about_rhinoplasty_gets_lead_and_guide_SMS_from_sarah_outbound_within_5_seconds()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        using var client = fx.As(clinic.Id);
        var sw = Stopwatch.StartNew();

        var r = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(NewCall(), phone));
        Assert.True(r.StatusCode == HttpStatusCode.Accepted, await r.Content.ReadAsStringAsync());
        var body = await TwilioFixture.JsonAsync(r);
        var sms = await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(5));
        sw.Stop();

        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"SMS after {sw.Elapsed}");   // the seed's bound
        Assert.Equal("Rhinoplasty", body.GetProperty("procedure").GetString());
        Assert.Equal("https://frontdesk.test/guides/rhinoplasty-guide.pdf", body.GetProperty("pdfLink").GetString());
        Assert.Equal("sarah_outbound", body.GetProperty("assignedAgent").GetString());
        Assert.StartsWith("Hi Jane Doe, \n\nThanks for chatting with us about Rhinoplasty!", sms.Body);
        Assert.Contains("https://frontdesk.test/guides/rhinoplasty-guide.pdf", sms.Body);
        Assert.Contains("https://frontdesk.test/book/", sms.Body);
        Assert.EndsWith("- Sarah from " + await TestApp.ScalarAsync<string>("select name from clinics where id = $1", clinic.Id), sms.Body);
        Assert.Equal(FakeTwilio.From, sms.From);
        // Our message id rides in the callback URL, so a callback settles an attempt whose answer was lost.
        Assert.Equal("https://frontdesk.test/twilio/status?m=" + body.GetProperty("messageId").GetGuid().ToString("N"), sms.StatusCallback);

        var leadId = body.GetProperty("leadId").GetGuid();
        // The lead finds its caller by the number's keyed hash; the number itself is sealed (issue 13).
        Assert.Equal(await Frontdesk.Tests.Privacy.CallerHashes.OfAsync(clinic.Id, phone), await TestApp.ScalarAsync<byte[]>(
            "select phone_hash from leads where id = $1 and clinic_id = $2 and phone is null and name is null and content is not null", leadId, clinic.Id));
        Assert.Equal("lead_xyz_789", await TestApp.ScalarAsync<string>("select external_ref from leads where id = $1", leadId));
        Assert.Equal("rhinoplasty-guide|SMS|sarah_outbound", await TestApp.ScalarAsync<string>(
            "select template || '|' || channel || '|' || assigned_agent from lead_followups where id = $1", body.GetProperty("followupId").GetGuid()));
        await WaitUntilAsync(async () => await TestApp.ScalarAsync<string>("select status from sms_messages where id = $1",
            body.GetProperty("messageId").GetGuid()) == "queued" && await TestApp.ScalarAsync<string>(
            "select twilio_sid from sms_messages where id = $1", body.GetProperty("messageId").GetGuid()) == sms.Sid);
        // The seed's text with two links is longer than one SMS: GSM-7, 153 characters per segment.
        Assert.Equal($"GSM-7/{(sms.Body.Length + 152) / 153}", await TestApp.ScalarAsync<string>(
            "select encoding || '/' || segments from sms_messages where id = $1", body.GetProperty("messageId").GetGuid()));
    }

    [Fact]
    public async Task Replaying_the_same_callId_returns_the_same_ids_and_sends_one_SMS()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var call = NewCall();
        using var client = fx.As(clinic.Id);
        var responses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(call, phone))));
        var bodies = await Task.WhenAll(responses.Select(TwilioFixture.JsonAsync));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        Assert.Single(bodies.Select(b => b.GetProperty("leadId").GetGuid()).Distinct());
        Assert.Single(bodies.Select(b => b.GetProperty("messageId").GetGuid()).Distinct());

        await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(5));
        var again = await TwilioFixture.JsonAsync(await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(call, phone)));
        Assert.Equal(bodies[0].GetProperty("followupId").GetGuid(), again.GetProperty("followupId").GetGuid());
        await Task.Delay(1500);
        Assert.Single(fx.Fake.For(phone));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from leads where clinic_id = $1", clinic.Id));
    }

    [Theory]
    [InlineData("Rhinoplasty", true, "interested... booked", "booking_confirmed")]
    [InlineData(null, false, "just asking about parking", "no_procedure")]
    public async Task No_follow_up_is_200_with_the_reason_and_stores_nothing(string? keyword, bool booked, string transcript, string reason)
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        using var client = fx.As(clinic.Id);
        var r = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(NewCall(), phone, keyword, booked, transcript));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var body = await TwilioFixture.JsonAsync(r);
        Assert.False(body.GetProperty("followUp").GetBoolean());
        Assert.Equal(reason, body.GetProperty("reason").GetString());
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from leads where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task Invalid_number_is_200_invalid_number()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        using var client = fx.As(clinic.Id);
        var body = await TwilioFixture.JsonAsync(await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(NewCall(), "12345")));
        Assert.Equal("invalid_number", body.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Opted_out_number_gets_no_SMS()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        await Frontdesk.Tests.Privacy.CallerHashes.OptOutAsync(clinic.Id, phone);
        using var client = fx.As(clinic.Id);
        var body = await TwilioFixture.JsonAsync(await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(NewCall(), phone)));
        Assert.Equal("opted_out", body.GetProperty("reason").GetString());
        await Task.Delay(1000);
        Assert.Empty(fx.Fake.For(phone));
    }

    [Theory]
    [InlineData("I was thinking about a liquid rhinoplasty, then I had to go", "Liquid Rhinoplasty", "/guides/liquid-rhino-guide.pdf")]
    [InlineData("my sister had a nose job and I'd like one too", "Rhinoplasty", "/guides/rhinoplasty-guide.pdf")]
    [InlineData("Could you tell me about the non-surgical nose job?", "Liquid Rhinoplasty", "/guides/liquid-rhino-guide.pdf")]
    [InlineData("what does a FACE-LIFT cost", "Facelift", "/guides/facelift-guide.pdf")]
    public async Task Procedure_from_the_transcript_longest_match_wins(string transcript, string procedure, string guide)
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        using var client = fx.As(clinic.Id);
        var r = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(NewCall(), phone, keyword: null, transcript: transcript));
        var body = await TwilioFixture.JsonAsync(r);
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        Assert.Equal(procedure, body.GetProperty("procedure").GetString());
        var sms = await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(5));
        Assert.Contains("https://frontdesk.test" + guide, sms.Body);
    }

    [Fact]
    public async Task Clinic_A_token_cannot_touch_clinic_B_follow_ups()
    {
        var (a, _) = await TwilioFixture.ClinicAsync();
        var (b, _) = await TwilioFixture.ClinicAsync();
        var call = NewCall();
        using var asB = fx.As(b.Id);
        var bBody = await TwilioFixture.JsonAsync(await asB.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(call, TwilioFixture.NewPhone())));

        // The same call id under A's token: A's own lead, never B's ids or rows.
        using var asA = fx.As(a.Id);
        var aBody = await TwilioFixture.JsonAsync(await asA.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(call, TwilioFixture.NewPhone())));
        Assert.NotEqual(bBody.GetProperty("leadId").GetGuid(), aBody.GetProperty("leadId").GetGuid());
        Assert.Equal(a.Id, await TestApp.ScalarAsync<Guid>("select clinic_id from leads where id = $1", aBody.GetProperty("leadId").GetGuid()));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from leads where clinic_id = $1", b.Id));

        // Under A's claims the database shows none of B's follow-up rows.
        var visible = await TestApp.Db.QueryOnceAsync<long>(RequestClaims.ForClinic(a.Id, "probe"),
            "select count(*) from lead_followups where clinic_id = @B", new { B = b.Id }, CancellationToken.None);
        Assert.Equal(0L, visible[0]);
    }

    [Fact]
    public async Task Bad_requests_get_problems_and_store_nothing()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        using var anonymous = fx.Client();
        var r = await anonymous.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(NewCall(), TwilioFixture.NewPhone()));
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.Equal(Problems.Unauthorized, (await TwilioFixture.JsonAsync(r)).GetProperty("type").GetString());

        using var client = fx.As(clinic.Id);
        var malformed = await client.PostAsync("/functions/v1/trigger_followup_sms", new StringContent("{\"callId\": ", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal(Problems.MalformedRequest, (await TwilioFixture.JsonAsync(malformed)).GetProperty("type").GetString());

        var noCall = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", new { keyword = "Rhinoplasty", patientPhone = TwilioFixture.NewPhone() });
        Assert.Equal(HttpStatusCode.BadRequest, noCall.StatusCode);
        Assert.Equal(Problems.Validation, (await TwilioFixture.JsonAsync(noCall)).GetProperty("type").GetString());

        var wrongType = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", new { eventType = "call_started", callId = NewCall() });
        Assert.Equal(Problems.Validation, (await TwilioFixture.JsonAsync(wrongType)).GetProperty("type").GetString());
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from leads where clinic_id = $1", clinic.Id));
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, int seconds = 5)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < until)
        {
            if (await condition()) return;
            await Task.Delay(50);
        }
        Assert.Fail("condition not met in time");
    }
}
