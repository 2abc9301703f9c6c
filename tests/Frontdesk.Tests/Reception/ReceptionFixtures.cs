using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Frontdesk.Tests.Reception;

/// <summary>Clinics with a Vapi secret and reception settings, and Vapi messages shaped as Vapi sends them.</summary>
static class ReceptionFixtures
{
    public static async Task<(TestClinic Clinic, string Secret)> ClinicAsync(string timezone = "Europe/London", int slots = 0, int patients = 0,
        DateTimeOffset? firstSlot = null, string? name = null)
    {
        var clinic = await TestClinic.CreateAsync(slots: slots, patients: patients, firstSlot: firstSlot, timezone: timezone, name: name);
        var secret = "vapi-" + Guid.NewGuid().ToString("N");
        await TestApp.ExecAsync("update clinics set vapi_secret = $1 where id = $2", secret, clinic.Id);
        return (clinic, secret);
    }

    public const string AlwaysOpen = """{"mon": [["00:00","24:00"]], "tue": [["00:00","24:00"]], "wed": [["00:00","24:00"]], "thu": [["00:00","24:00"]], "fri": [["00:00","24:00"]], "sat": [["00:00","24:00"]], "sun": [["00:00","24:00"]]}""";

    /// <summary>Open every hour of the week except today (the clinic's local date), which is a closure: so
    /// closed now, opening at tomorrow 00:00.</summary>
    public static object ClosedToday(string timezone, string? transferNumber = "+442071234567") => new
    {
        openingHours = JsonDocument.Parse(AlwaysOpen).RootElement,
        closures = new[] { new { date = LocalToday(timezone).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), reason = "Staff training" } },
        transferNumber,
    };

    public static DateOnly LocalToday(string timezone) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById(timezone)).DateTime);

    public static async Task PutSettingsAsync(Guid clinicId, object settings)
    {
        using var admin = TestApp.As(clinicId, "admin");
        await TestClinic.Json(await admin.PutAsJsonAsync($"/api/clinics/{clinicId}/reception", settings));
    }

    public static HttpClient Client(WebApplicationFactory<Program>? app = null) => (app ?? TestApp.Factory).CreateClient();

    public static async Task<HttpResponseMessage> VapiAsync(string secret, object payload, WebApplicationFactory<Program>? app = null)
    {
        using var client = Client(app);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/vapi/webhook")
        {
            Content = new StringContent(JsonSerializer.Serialize(payload), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Vapi-Secret", secret);
        return await client.SendAsync(request);
    }

    public static async Task<JsonElement> VapiJsonAsync(string secret, object payload, WebApplicationFactory<Program>? app = null) =>
        await TestClinic.Json(await VapiAsync(secret, payload, app));

    public static string NewPhone() => "+44790" + Random.Shared.Next(1000000, 9999999).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>transfer-destination-request as Vapi sends it when the transferCall tool has no destination
    /// (docs.vapi.ai/calls/call-dynamic-transfers: the call, the customer, the live artifact).</summary>
    public static object TransferRequest(string callId, string? phone) => new
    {
        message = new
        {
            timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            type = "transfer-destination-request",
            artifact = new
            {
                messages = new object[]
                {
                    new { role = "bot", message = "Hello, how can I help?", time = 1768384800000L, secondsFromStart = 0.5 },
                    new { role = "user", message = "Can I speak to someone at the front desk please?", time = 1768384805000L, secondsFromStart = 5.1 },
                },
                transcript = "AI: Hello, how can I help?\nUser: Can I speak to someone at the front desk please?",
            },
            assistant = new { name = "reception" },
            phoneNumber = new { number = "+15005550006" },
            call = new { id = callId, orgId = "org_1", type = "inboundPhoneCall", status = "in-progress" },
            customer = phone is null ? null : new { number = phone },
        },
    };

    public static object AssistantRequest(string callId, string? phone) => new
    {
        message = new
        {
            timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            type = "assistant-request",
            call = new { id = callId, orgId = "org_1", type = "inboundPhoneCall", status = "ringing", customer = phone is null ? null : new { number = phone } },
            customer = phone is null ? null : new { number = phone },
            phoneNumber = new { number = "+15005550006" },
        },
    };

    public static object KnowledgeBaseRequest(string callId, string lastUser) => new
    {
        message = new
        {
            timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            type = "knowledge-base-request",
            call = new { id = callId, type = "inboundPhoneCall" },
            messages = new object[]
            {
                new { role = "bot", message = "Hello, how can I help?", time = 1732400001000L, secondsFromStart = 1 },
                new { role = "user", message = lastUser, time = 1732400004000L, secondsFromStart = 4 },
            },
            messagesOpenAIFormatted = new object[]
            {
                new { role = "assistant", content = "Hello, how can I help?" },
                new { role = "user", content = lastUser },
            },
        },
    };
}
