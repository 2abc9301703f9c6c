using System.Text.Json;

namespace Frontdesk.Tests.Calls;

/// <summary>Vapi server messages shaped as Vapi sends them (Vapi's OpenAPI spec and live captures):
/// outcomes at the top of an end-of-call report with a start-of-call snapshot nested, tool calls in
/// both toolCallList and toolWithToolCallList.</summary>
static class VapiPayloads
{
    public static string NewCall() => Guid.NewGuid().ToString();

    public static object Report(string callId, string phone, string transcript, object timestamp, string endedReason = "customer-ended-call",
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
            },
            call = new { id = callId, orgId = "org_1", type = "inboundPhoneCall", status = "queued", cost = 0 },
            customer = new { number = phone },
            phoneNumber = new { number = "+15005550006" },
        },
    };

    public static object ToolCall(string callId, string phone, string toolCallId, string name, object arguments, long timestamp = 1768385046123L) => new
    {
        message = new
        {
            timestamp,
            type = "tool-calls",
            toolCallList = new[]
            {
                new { id = toolCallId, type = "function", function = new { name, arguments = JsonSerializer.Serialize(arguments) } },
            },
            toolWithToolCallList = new[]
            {
                new { type = "function", function = new { name }, toolCall = new { id = toolCallId, type = "function",
                    function = new { name, arguments = JsonSerializer.Serialize(arguments) } } },
            },
            call = new { id = callId, status = "in-progress" },
            customer = new { number = phone },
        },
    };

    /// <summary>The one result of a tool-calls answer: its text, and whether Vapi would read it as an error.</summary>
    public static (string Text, bool Error) Result(JsonElement answer)
    {
        var r = answer.GetProperty("results")[0];
        return r.TryGetProperty("error", out var e) ? (e.GetString()!, true) : (r.GetProperty("result").GetString()!, false);
    }
}
