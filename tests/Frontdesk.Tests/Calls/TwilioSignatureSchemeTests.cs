using System.Net;
using System.Text.Json;
using Frontdesk.Bench;
using Frontdesk.Messaging;
using Frontdesk.Platform;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Frontdesk.Tests.Calls;

/// <summary>
/// Issue 14, "Twilio signatures", with vectors computed the way Twilio's helper libraries compute
/// them (twilio-node's getExpectedTwilioSignature: URL + sorted names, each distinct value once and
/// sorted; HMAC-SHA1 with the auth token, or the SharedKey's algorithm when
/// X-Twilio-Webhooks-Signature-Settings is present — only the hash changes). The vectors were
/// produced by running that rule in Node 20 with node:crypto; the first is Twilio's published example.
/// </summary>
public class TwilioSignatureSchemeTests
{
    const string Url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const string SharedSecret = "fake-shared-key-secret-0123456789";

    static List<KeyValuePair<string, string>> Published(params (string Key, string Value)[] extra) =>
    [
        new("CallSid", "CA1234567890ABCDE"), new("Caller", "+14158675309"), new("From", "+14158675309"), new("To", "+18005551212"),
        .. extra.Select(e => new KeyValuePair<string, string>(e.Key, e.Value)),
    ];

    [Fact]
    public void A_parameter_repeated_with_the_same_value_is_signed_once_as_Twilio_helpers_sign_it()
    {
        Assert.Equal("RSOYDt4T1cUTdK1PDd93/VVr8B8=", TwilioSignature.Compute("12345", Url, Published(("Digits", "1234"))));
        // Digits=1234&Digits=1234: twilio-node signs "Digits1234" once (new Set(values)); we signed it twice.
        Assert.Equal("RSOYDt4T1cUTdK1PDd93/VVr8B8=", TwilioSignature.Compute("12345", Url, Published(("Digits", "1234"), ("Digits", "1234"))));
        Assert.True(TwilioSignature.IsValid("12345", Url, Published(("Digits", "1234"), ("Digits", "1234")), "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        // Different values: each once, sorted.
        Assert.Equal("1F55Y6EDsEviuHKQm9BIkrznRZk=", TwilioSignature.Compute("12345", Url, Published(("Digits", "5678"), ("Digits", "1234"))));
    }

    [Fact]
    public void SharedKey_signatures_use_HMAC_SHA256_over_the_same_string()
    {
        const string Expected = "iaE6oCCjItFT8u9XiRwYL14l6L4gHpnYB6t1tpTl62I=";
        Assert.Equal(Expected, TwilioSignature.Compute(SharedSecret, Url, Published(("Digits", "1234")), TwilioSignatureAlgorithm.HmacSha256));
        Assert.True(TwilioSignature.IsValid(SharedSecret, Url, Published(("Digits", "1234"), ("Digits", "1234")), Expected, TwilioSignatureAlgorithm.HmacSha256));
        Assert.False(TwilioSignature.IsValid(SharedSecret, Url, Published(("Digits", "1234")), Expected, TwilioSignatureAlgorithm.HmacSha1));
        Assert.False(TwilioSignature.IsValid("12345", Url, Published(("Digits", "1234")), Expected, TwilioSignatureAlgorithm.HmacSha256));
    }

    [Theory]
    [InlineData("key=KY0123,algorithm=HMAC_SHA256", "KY0123", TwilioSignatureAlgorithm.HmacSha256)]
    [InlineData(" algorithm=hmac_sha256 , key=KYabc ", "KYabc", TwilioSignatureAlgorithm.HmacSha256)]
    [InlineData("key=KY9,algorithm=HMAC_SHA1", "KY9", TwilioSignatureAlgorithm.HmacSha1)]
    public void Signature_settings_name_the_key_and_the_algorithm(string header, string key, TwilioSignatureAlgorithm algorithm)
    {
        Assert.True(TwilioSignature.TryReadSettings(header, out var keyId, out var read));
        Assert.Equal((key, algorithm), (keyId, read));
    }

    [Theory]
    [InlineData("key=KY1,algorithm=HMAC_SHA512")]
    [InlineData("key=,algorithm=HMAC_SHA256")]
    [InlineData("algorithm=HMAC_SHA256")]
    [InlineData("key=KY1")]
    [InlineData("garbage")]
    public void Signature_settings_without_a_key_or_with_an_unknown_algorithm_are_refused(string header) =>
        Assert.False(TwilioSignature.TryReadSettings(header, out _, out _));
}

/// <summary>The same schemes at the callback endpoints.</summary>
[Collection("twilio")]
public class TwilioSharedKeyEndpointTests(TwilioFixture fx)
{
    const string KeyId = "KY00000000000000000000000000000001";
    const string SharedSecret = "fake-shared-key-secret-0123456789";

    static FormUrlEncodedContent Form(IEnumerable<KeyValuePair<string, string>> fields) => new(fields);

    static async Task<HttpResponseMessage> PostAsync(WebApplicationFactory<Program> app, string path, List<KeyValuePair<string, string>> fields,
        string signature, string? settings)
    {
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Form(fields) };
        request.Headers.Add("X-Twilio-Signature", signature);
        if (settings is not null) request.Headers.Add(TwilioSignature.SettingsHeader, settings);
        return await client.SendAsync(request);
    }

    static async Task<string?> ProblemType(HttpResponseMessage r) =>
        JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("type").GetString();

    [Fact]
    public async Task A_callback_signed_with_a_configured_SharedKey_and_HMAC_SHA256_is_accepted_and_others_are_refused()
    {
        await using var app = fx.App.WithWebHostBuilder(b => b.UseSetting("TWILIO_WEBHOOK_SHARED_KEYS", $"KYother=another-secret,{KeyId}={SharedSecret}"));
        const string Path = "/twilio/status";
        List<KeyValuePair<string, string>> fields =
            [new("MessageSid", "SM" + Guid.NewGuid().ToString("N")), new("MessageStatus", "delivered"), new("AccountSid", FakeTwilio.AccountSid)];
        var url = "https://frontdesk.test" + Path;
        var sha256 = TwilioSignature.Compute(SharedSecret, url, fields, TwilioSignatureAlgorithm.HmacSha256);

        using (var ok = await PostAsync(app, Path, fields, sha256, $"key={KeyId},algorithm=HMAC_SHA256"))
            Assert.Equal(HttpStatusCode.NoContent, ok.StatusCode);
        // The auth-token signature is not valid once the settings name a SharedKey.
        using (var tokenSigned = await PostAsync(app, Path, fields, TwilioSignature.Compute(FakeTwilio.AuthToken, url, fields), $"key={KeyId},algorithm=HMAC_SHA256"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, tokenSigned.StatusCode);
            Assert.Equal(Problems.Forbidden, await ProblemType(tokenSigned));
        }
        using (var unknownKey = await PostAsync(app, Path, fields, sha256, "key=KYnotours,algorithm=HMAC_SHA256"))
            Assert.Equal(HttpStatusCode.Forbidden, unknownKey.StatusCode);
        using (var unknownAlgorithm = await PostAsync(app, Path, fields, sha256, $"key={KeyId},algorithm=HMAC_SHA512"))
            Assert.Equal(HttpStatusCode.Forbidden, unknownAlgorithm.StatusCode);
        // Without the header, the auth token and HMAC-SHA1 as before.
        using (var classic = await PostAsync(app, Path, fields, TwilioSignature.Compute(FakeTwilio.AuthToken, url, fields), null))
            Assert.Equal(HttpStatusCode.NoContent, classic.StatusCode);
    }

    [Fact]
    public async Task A_callback_with_a_repeated_parameter_signed_the_way_Twilio_signs_it_is_accepted()
    {
        const string Path = "/twilio/inbound";
        var (clinic, _) = await TwilioFixture.ClinicAsync(slots: 0);
        var clinicNumber = TwilioFixture.NewPhone();
        await Infrastructure.TestApp.ExecAsync("update clinics set sms_from = $1 where id = $2", clinicNumber, clinic.Id);
        List<KeyValuePair<string, string>> fields =
            [new("From", TwilioFixture.NewPhone()), new("To", clinicNumber), new("Body", "HELP"), new("Body", "HELP"), new("MessageSid", "SM1")];
        // Signed with the value once, as twilio-node's helper does.
        var deduplicated = fields.DistinctBy(f => (f.Key, f.Value)).ToList();
        var signature = TwilioSignature.Compute(FakeTwilio.AuthToken, "https://frontdesk.test" + Path, deduplicated);
        using var response = await PostAsync(fx.App, Path, fields, signature, null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<Message>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
