using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Platform;

/// <summary>Issue 14, "Bad input never gets a 500": the inputs a review measured at 500, each a clear
/// 400 problem that stores nothing.</summary>
[Collection("twilio")]
public partial class MalformedInputTests(TwilioFixture twilio, HardenedHost host) : IClassFixture<HardenedHost>
{
    static string Report(string callId, string extra = "") => """
        {"message": {"type": "end-of-call-report", "timestamp": "2026-01-14T10:04:06Z", "endedReason": "customer-ended-call",
         "startedAt": "2026-01-14T10:00:00Z", "endedAt": "2026-01-14T10:04:05Z", "cost": 0.12,
         "analysis": {"summary": "Asked about rhinoplasty"}, "artifact": {"transcript": "User: rhinoplasty, bye"},
         "call": {"id": "CALL"}, "customer": {"number": "+447700900123"}EXTRA}}
        """.Replace("CALL", callId, StringComparison.Ordinal).Replace("EXTRA", extra, StringComparison.Ordinal);

    static string ToolCall(string callId) => """
        {"message": {"type": "tool-calls", "call": {"id": "CALL"},
         "toolCallList": [{"id": "tc1", "type": "function", "function": {"name": "check_availability", "arguments": {}}}]}}
        """.Replace("CALL", callId, StringComparison.Ordinal);

    static async Task<string> ProblemTypeAsync(HttpResponseMessage r)
    {
        var text = await r.Content.ReadAsStringAsync();
        if (r.Content.Headers.ContentType?.MediaType != "application/problem+json") return $"(not a problem: {text})";
        Assert.DoesNotContain("Npgsql", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        return JsonDocument.Parse(text).RootElement.GetProperty("type").GetString()!;
    }

    /// <summary>The twelve measured inputs (issue 14): each a request and the problem type it must get.</summary>
    internal static (string Name, Func<Task<HttpResponseMessage>> Send, string Type)[] MeasuredCases(
        HttpClient vapi, HttpClient admin, HttpClient service, Guid clinicId, Guid patientId, string namePrefix)
    {
        var badUtf8 = Encoding.UTF8.GetBytes(Report(Guid.NewGuid().ToString(), ", \"x\": \"ab\""));
        badUtf8[Array.LastIndexOf(badUtf8, (byte)'b')] = 0xFF;   // a byte that is never UTF-8

        return
        [
            ("empty call.id in an end-of-call report", () => vapi.PostAsync("/vapi/webhook", HardenedHost.Json(Report(""))), Problems.Validation),
            ("empty call.id in a tool call", () => vapi.PostAsync("/vapi/webhook", HardenedHost.Json(ToolCall(""))), Problems.Validation),
            ("400-character status", () => vapi.PostAsync("/vapi/webhook", HardenedHost.Json(
                "{\"message\": {\"type\": \"status-update\", \"status\": \"" + new string('s', 400) + "\", \"call\": {\"id\": \"" + Guid.NewGuid() + "\"}}}")), Problems.Validation),
            ("invalid UTF-8", () => vapi.PostAsync("/vapi/webhook", HardenedHost.Json(badUtf8)), Problems.MalformedRequest),
            ("lone surrogate", () => vapi.PostAsync("/vapi/webhook", HardenedHost.Json(
                Report(Guid.NewGuid().ToString()).Replace("Asked about", "Asked \\ud800 about", StringComparison.Ordinal))), Problems.MalformedRequest),
            ("cost 1e30", () => vapi.PostAsync("/vapi/webhook", HardenedHost.Json(
                Report(Guid.NewGuid().ToString()).Replace("\"cost\": 0.12", "\"cost\": 1e30", StringComparison.Ordinal))), Problems.Validation),
            ("NUL in a call summary", () => vapi.PostAsync("/vapi/webhook", HardenedHost.Json(
                Report(Guid.NewGuid().ToString()).Replace("Asked about", "Asked\\u0000about", StringComparison.Ordinal))), Problems.MalformedRequest),
            ("NUL in a clinic name", () => service.PostAsJsonAsync("/api/clinics", new { name = namePrefix + "\0x", timezone = "Europe/London" }), Problems.MalformedRequest),
            ("NUL in a patient name", () => admin.PostAsJsonAsync($"/api/clinics/{clinicId}/patients", new { name = "Ja\0ne", phone = TwilioFixture.NewPhone() }), Problems.MalformedRequest),
            ("NUL in patientName of trigger_followup_sms", () => admin.PostAsJsonAsync("/functions/v1/trigger_followup_sms", new
            {
                eventType = "call_ended", callId = "call_" + Guid.NewGuid().ToString("N"), patientPhone = TwilioFixture.NewPhone(), patientName = "Ja\0ne",
                keyword = "Rhinoplasty", bookingConfirmed = false, transcript = "rhinoplasty",
            }), Problems.MalformedRequest),
            ("NUL in a redact_and_store_pii transcript", () => admin.PostAsJsonAsync("/functions/v1/redact_and_store_pii",
                new { clinicId, patientId, transcript = "my email is jane\0@example.com" }), Problems.MalformedRequest),
            ("a number as the message type", () => vapi.PostAsync("/vapi/webhook", HardenedHost.Json("""{"message":{"type":42}}""")), Problems.Validation),
        ];
    }

    [Fact]
    public async Task The_inputs_measured_at_500_are_400_problems_and_store_nothing()
    {
        var app = await host.AppAsync(twilio);
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 2);
        using var svc = TestApp.Service();
        var patient = await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinic.Id}/patients", new { name = "Jane Doe", phone = TwilioFixture.NewPhone() }));
        var patientId = patient.GetProperty("id").GetGuid();
        var namePrefix = "Malformed " + Guid.NewGuid().ToString("N");
        var before = await StoredRows.OfClinicAsync(clinic.Id);

        using var vapi = HardenedHost.VapiClient(app, secret);
        using var admin = HardenedHost.Bearer(app, TestApp.Token(RequestClaims.ForClinic(clinic.Id, "u-admin", "admin")));
        using var service = HardenedHost.Bearer(app, TestApp.ServiceToken());
        var cases = MeasuredCases(vapi, admin, service, clinic.Id, patientId, namePrefix);

        var failures = new List<string>();
        foreach (var (name, send, type) in cases)
        {
            using var r = await send();
            var got = await ProblemTypeAsync(r);
            if (r.StatusCode != HttpStatusCode.BadRequest || got != type)
                failures.Add($"{name}: {(int)r.StatusCode} {got}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Concat(host.Errors.Entries)));
        Assert.Equal("", StoredRows.Diff(before, await StoredRows.OfClinicAsync(clinic.Id)));
        Assert.Equal(0L, await StoredRows.ClinicsNamedAsync(namePrefix));
    }
}
