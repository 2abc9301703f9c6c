using System.Net;
using System.Net.Http.Json;
using Frontdesk.Messaging;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Bench;

namespace Frontdesk.Tests.Calls;

public class TwilioSignatureTests
{
    static readonly KeyValuePair<string, string>[] Vector =
    [
        new("CallSid", "CA1234567890ABCDE"), new("Caller", "+14158675309"), new("Digits", "1234"),
        new("From", "+14158675309"), new("To", "+18005551212"),
    ];

    [Fact]
    public void Twilio_published_test_vectors_compute_and_validate()
    {
        Assert.Equal("RSOYDt4T1cUTdK1PDd93/VVr8B8=", TwilioSignature.Compute("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", Vector));
        Assert.Equal("kvajT1Ptam85bY51eRf/AJRuM3w=", TwilioSignature.Compute("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", Vector));
        // Twilio may have signed either form of the URL.
        Assert.True(TwilioSignature.IsValid("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", Vector, "kvajT1Ptam85bY51eRf/AJRuM3w="));
        Assert.True(TwilioSignature.IsValid("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", Vector, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        Assert.False(TwilioSignature.IsValid("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", Vector, "RSOYDt4T1cUTdK1PDd93/VVr8B8X"));
        Assert.False(TwilioSignature.IsValid("54321", "https://mycompany.com/myapp.php?foo=1&bar=2", Vector, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    }

    [Theory]
    [InlineData("Hello", 1, "GSM-7")]
    [InlineData("Price: €5 [ok]", 1, "GSM-7")]
    [InlineData("Hi 👋", 1, "UCS-2")]
    public void Segments_are_counted_by_encoding(string body, int segments, string encoding) =>
        Assert.Equal((segments, encoding), SmsText.Count(body));

    [Fact]
    public void Long_bodies_split_at_153_GSM_or_67_UCS2_characters()
    {
        Assert.Equal((1, "GSM-7"), SmsText.Count(new string('a', 160)));
        Assert.Equal((2, "GSM-7"), SmsText.Count(new string('a', 161)));
        Assert.Equal((3, "GSM-7"), SmsText.Count(new string('a', 307)));
        Assert.Equal((2, "UCS-2"), SmsText.Count("é" + new string('ж', 70)));
        Assert.Equal(1600, SmsText.Fit(new string('a', 2000)).Length);
    }
}

[Collection("twilio")]
public class TwilioTests(TwilioFixture fx)
{
    static object CallEnded(string phone) => new
    {
        eventType = "call_ended", callId = "call_" + Guid.NewGuid().ToString("N"), patientPhone = phone, patientName = "Jane Doe",
        keyword = "Rhinoplasty", bookingConfirmed = false, transcript = "rhinoplasty... hung up",
    };

    async Task<Guid> TriggerAsync(Guid clinicId, string phone)
    {
        using var client = fx.As(clinicId);
        var r = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(phone));
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        return (await TwilioFixture.JsonAsync(r)).GetProperty("messageId").GetGuid();
    }

    [Fact]
    public async Task Twilio_429_then_201_delivers_exactly_one_message()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        fx.Fake.Script(phone, (429, 20429), (503, 20500));
        var messageId = await TriggerAsync(clinic.Id, phone);
        var sms = await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(10));
        await Task.Delay(500);
        Assert.Single(fx.Fake.For(phone));
        Assert.Equal(3, fx.Fake.AttemptsFor(phone));
        Assert.Equal(sms.Sid, await TestApp.ScalarAsync<string>("select twilio_sid from sms_messages where id = $1", messageId));
        Assert.Equal(3, await TestApp.ScalarAsync<int>("select attempts from sms_messages where id = $1", messageId));
    }

    [Fact]
    public async Task Twilio_21610_records_the_opt_out_and_is_not_retried()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        fx.Fake.Script(phone, (400, 21610));
        var messageId = await TriggerAsync(clinic.Id, phone);
        await FollowUpTests.WaitUntilAsync(async () => await TestApp.ScalarAsync<string>("select status from sms_messages where id = $1", messageId) == "failed");
        await Task.Delay(1500);
        Assert.Equal(1, fx.Fake.AttemptsFor(phone));
        Assert.Empty(fx.Fake.For(phone));
        Assert.Equal(21610, await TestApp.ScalarAsync<int>("select error_code from sms_messages where id = $1", messageId));
        Assert.Equal("twilio-21610", await TestApp.ScalarAsync<string>("select source from sms_opt_outs where clinic_id = $1 and phone_hash = $2 and phone is null",
            clinic.Id, await Frontdesk.Tests.Privacy.CallerHashes.OfAsync(clinic.Id, phone)));
        Assert.Equal("failed", await TestApp.ScalarAsync<string>("select f.status from lead_followups f join sms_messages m on m.followup_id = f.id where m.id = $1", messageId));
    }

    [Fact]
    public async Task Twilio_21211_invalid_number_fails_for_good()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        fx.Fake.Script(phone, (400, 21211));
        var messageId = await TriggerAsync(clinic.Id, phone);
        await FollowUpTests.WaitUntilAsync(async () => await TestApp.ScalarAsync<string>("select status from sms_messages where id = $1", messageId) == "failed");
        await Task.Delay(1000);
        Assert.Equal(1, fx.Fake.AttemptsFor(phone));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from sms_opt_outs where clinic_id = $1", clinic.Id));
        // Twilio's message quotes the number; what is stored does not (issue 13).
        Assert.Equal("21211: The 'To' number [number] is not a valid phone number.",
            await TestApp.ScalarAsync<string>("select error_message from sms_messages where id = $1", messageId));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>(
            "select count(*) from outbox where clinic_id = $1 and last_error like '%' || $2 || '%'", clinic.Id, phone[1..]));
    }

    static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)));

    async Task<HttpResponseMessage> SignedAsync(string path, (string Key, string Value)[] fields, string? signature = null, bool sign = true)
    {
        using var client = fx.App.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Form(fields) };
        if (sign)
            request.Headers.Add("X-Twilio-Signature", signature ?? TwilioSignature.Compute(FakeTwilio.AuthToken, "https://frontdesk.test" + path,
                fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value))));
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task Status_callbacks_update_delivery_and_never_move_backwards()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var messageId = await TriggerAsync(clinic.Id, phone);
        var sms = await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(5));
        await FollowUpTests.WaitUntilAsync(async () => await TestApp.ScalarAsync<string>("select twilio_sid from sms_messages where id = $1", messageId) == sms.Sid);

        var delivered = await SignedAsync("/twilio/status", [("MessageSid", sms.Sid), ("MessageStatus", "delivered"), ("AccountSid", FakeTwilio.AccountSid)]);
        Assert.Equal(HttpStatusCode.NoContent, delivered.StatusCode);
        await SignedAsync("/twilio/status", [("MessageSid", sms.Sid), ("MessageStatus", "sent"), ("AccountSid", FakeTwilio.AccountSid)]);
        Assert.Equal("delivered", await TestApp.ScalarAsync<string>("select status from sms_messages where id = $1", messageId));
        Assert.Equal("sent", await TestApp.ScalarAsync<string>("select f.status from lead_followups f join sms_messages m on m.followup_id = f.id where m.id = $1", messageId));
    }

    [Fact]
    public async Task Forged_signatures_are_403_and_missing_ones_401()
    {
        (string, string)[] fields = [("MessageSid", "SM" + Guid.NewGuid().ToString("N")), ("MessageStatus", "delivered")];
        var forged = await SignedAsync("/twilio/status", fields, signature: "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        Assert.Equal(Problems.Forbidden, (await TwilioFixture.JsonAsync(forged)).GetProperty("type").GetString());
        var missing = await SignedAsync("/twilio/inbound", [("From", "+447900000001"), ("To", FakeTwilio.From), ("Body", "STOP")], sign: false);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal(Problems.Unauthorized, (await TwilioFixture.JsonAsync(missing)).GetProperty("type").GetString());
        // Signed for another path: not valid here.
        var moved = await SignedAsync("/twilio/inbound", [("From", "+447900000001"), ("To", FakeTwilio.From), ("Body", "STOP")],
            signature: TwilioSignature.Compute(FakeTwilio.AuthToken, "https://frontdesk.test/twilio/status",
                [new("From", "+447900000001"), new("To", FakeTwilio.From), new("Body", "STOP")]));
        Assert.Equal(HttpStatusCode.Forbidden, moved.StatusCode);
    }

    [Fact]
    public async Task Inbound_STOP_opts_out_of_that_clinic_START_opts_back_in_and_HELP_replies()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var clinicNumber = TwilioFixture.NewPhone();
        await TestApp.ExecAsync("update clinics set sms_from = $1 where id = $2", clinicNumber, clinic.Id);
        var phone = TwilioFixture.NewPhone();

        var stop = await SignedAsync("/twilio/inbound", [("From", phone), ("To", clinicNumber), ("Body", " stop "), ("MessageSid", "SM1")]);
        Assert.Equal(HttpStatusCode.OK, stop.StatusCode);
        Assert.Equal("text/xml", stop.Content.Headers.ContentType?.MediaType);
        // Kept by the number's keyed hash, never the number (issue 13).
        var hash = await Frontdesk.Tests.Privacy.CallerHashes.OfAsync(clinic.Id, phone);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from sms_opt_outs where clinic_id = $1 and phone_hash = $2 and phone is null", clinic.Id, hash));
        using (var client = fx.As(clinic.Id))
        {
            var r = await TwilioFixture.JsonAsync(await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(phone)));
            Assert.Equal("opted_out", r.GetProperty("reason").GetString());
        }

        var help = await SignedAsync("/twilio/inbound", [("From", phone), ("To", clinicNumber), ("Body", "HELP")]);
        Assert.Contains("<Message>", await help.Content.ReadAsStringAsync());

        await SignedAsync("/twilio/inbound", [("From", phone), ("To", clinicNumber), ("Body", "START")]);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from sms_opt_outs where clinic_id = $1 and phone_hash = $2", clinic.Id, hash));
        await TriggerAsync(clinic.Id, phone);
        var sms = await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(5));
        Assert.Equal(clinicNumber, sms.From);   // the clinic's own number overrides TWILIO_FROM
    }
}
