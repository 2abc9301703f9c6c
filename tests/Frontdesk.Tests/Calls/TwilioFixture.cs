using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Bench;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Tests.Calls;

[CollectionDefinition("twilio")]
public sealed class TwilioGroup : ICollectionFixture<TwilioFixture>;

/// <summary>The app with Twilio pointed at a loopback fake. One per test run: it is the only
/// instance on the shared database that sends SMS, so every message lands in this fake.</summary>
public sealed class TwilioFixture : IAsyncLifetime
{
    public FakeTwilio Fake { get; private set; } = null!;
    public WebApplicationFactory<Program> App { get; private set; } = null!;

    /// <summary>Every log line this app writes at the levels its configuration lets through (issue 13's log check).</summary>
    public LogCapture Logs { get; } = new();

    public async Task InitializeAsync()
    {
        Fake = await FakeTwilio.StartAsync();
        App = TestApp.Factory.WithWebHostBuilder(b =>
        {
            Configure(b, Fake);
            b.ConfigureServices(s => s.AddLogging(l => l.AddProvider(Logs)));
            b.ConfigureServices(s => s.AddTransient<Microsoft.AspNetCore.Hosting.IStartupFilter, TestClientAddress>());
        });
        App.CreateClient().Dispose();
    }

    public static void Configure(IWebHostBuilder b, FakeTwilio fake)
    {
        b.UseSetting("TWILIO_API_BASE_URL", fake.Url);
        b.UseSetting("TWILIO_ACCOUNT_SID", FakeTwilio.AccountSid);
        b.UseSetting("TWILIO_AUTH_TOKEN", FakeTwilio.AuthToken);
        b.UseSetting("TWILIO_FROM", FakeTwilio.From);
        // Look an ambiguous attempt up at once: the tests do not wait for a status callback.
        b.UseSetting("FRONTDESK_SMS_RECONCILE_DELAY_SECONDS", "0");
    }

    public HttpClient Client(string? token = null)
    {
        var c = App.CreateClient();
        if (token is not null) c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return c;
    }

    public HttpClient As(Guid clinicId, string appRole = "admin") => Client(TestApp.Token(RequestClaims.ForClinic(clinicId, "user-" + Guid.NewGuid().ToString("N"), appRole)));

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Fake.DisposeAsync();
    }

    /// <summary>A fresh clinic with a Vapi secret (and whatever else the test sets).</summary>
    public static async Task<(TestClinic Clinic, string Secret)> ClinicAsync(int slots = 4, string? assistantId = null, bool hmac = false)
    {
        var clinic = await TestClinic.CreateAsync(slots: slots, patients: 0);
        var secret = "vapi-" + Guid.NewGuid().ToString("N");
        await TestApp.ExecAsync("update clinics set vapi_secret = $1, vapi_assistant_id = $2, vapi_hmac = $3 where id = $4",
            secret, (object?)assistantId ?? DBNull.Value, hmac, clinic.Id);
        return (clinic, secret);
    }

    public static string NewPhone() => "+44790" + Random.Shared.Next(1000000, 9999999).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public async Task<HttpResponseMessage> VapiAsync(string secret, object payload) =>
        await VapiRawAsync(secret, JsonSerializer.Serialize(payload));

    public async Task<HttpResponseMessage> VapiRawAsync(string? secret, string body, Action<HttpRequestMessage>? configure = null,
        CancellationToken ct = default)
    {
        using var client = App.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/vapi/webhook") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (secret is not null) request.Headers.Add("X-Vapi-Secret", secret);
        configure?.Invoke(request);
        return await client.SendAsync(request, ct);
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage r) =>
        JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone();

    public static Task<HttpResponseMessage> PostJsonAsync(HttpClient c, string url, object body) => c.PostAsJsonAsync(url, body);
}
