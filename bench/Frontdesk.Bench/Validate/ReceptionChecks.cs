using System.Globalization;
using System.Text.Json;

namespace Frontdesk.Bench.Validate;

/// <summary>Issue 17 against the target, functional lines only: transfer while open and while closed, callbacks
/// from the tool and from a transfer that did not connect, the caller and the date before the first word, and a
/// knowledge gap recorded, answered and then found.</summary>
public static class ReceptionChecks
{
    const string Timezone = "Europe/London";
    static readonly string[][] AllDay = [["00:00", "24:00"]];

    public static async Task RunAsync(ValidationRun run)
    {
        var s = new Section("reception", "Reception: handoff, callbacks, caller variables, knowledge gaps");
        run.Report.Sections.Add(s);
        run.Progress("▶ Reception: transfers, callbacks, caller variables, knowledge gaps …");
        var c = await run.CreateClinicAsync("rc", slots: 0, patients: 0);
        var admin = run.Api.Token(c.Id, "admin");
        var staff = run.Api.Token(c.Id, "receptionist");
        var vapi = new Dictionary<string, string> { ["X-Vapi-Secret"] = c.VapiSecret };
        Task<ApiResult> Vapi(object message) => run.Api.SendAsync(HttpMethod.Post, "/vapi/webhook", null, new { message }, vapi);
        async Task<ApiResult> Settings(object body) =>
            await Api.Expect(run.Api.SendAsync(HttpMethod.Put, $"/api/clinics/{c.Id}/reception", admin, body), "reception settings");
        async Task<List<JsonElement>> Callbacks() =>
            [.. (await Api.Expect(run.Api.GetAsync($"/api/clinics/{c.Id}/callbacks?status=all", staff), "list callbacks")).Body.EnumerateArray()];
        var allWeek = new { mon = AllDay, tue = AllDay, wed = AllDay, thu = AllDay, fri = AllDay, sat = AllDay, sun = AllDay };
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById(Timezone)).DateTime);

        // Transfer while open: the front desk's number, warm with a summary.
        await Settings(new { openingHours = allWeek, transferNumber = "+442071234567", transferMode = "warm" });
        var open = await Vapi(Transfer($"call-{Guid.NewGuid()}", "+447911123456"));
        var destination = open.Ok && open.Body.TryGetProperty("destination", out var d) ? d : default;
        var mode = destination.ValueKind == JsonValueKind.Object ? destination.GetProperty("transferPlan").GetProperty("mode").GetString() : null;
        s.Check("Transfer while open goes to the front desk", destination.ValueKind == JsonValueKind.Object
                && destination.GetProperty("number").GetString() == "+442071234567" && mode is not null && mode.Contains("summary", StringComparison.Ordinal),
            $"{(int)open.Status}: destination {(destination.ValueKind == JsonValueKind.Object ? destination.GetProperty("number").GetString() : "none")}, transferPlan.mode {mode ?? "none"}");

        // Transfer while closed (today is a closure): no destination, a spoken message, one callback.
        await Settings(new { openingHours = allWeek, closures = new[] { new { date = today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), reason = "validate" } }, transferNumber = "+442071234567" });
        var closedCall = $"call-{Guid.NewGuid()}";
        var closed = await Vapi(Transfer(closedCall, "+447911123457"));
        await Vapi(Transfer(closedCall, "+447911123457"));
        // Vapi's answer has destination and error only: the sentence for the caller travels inside the error.
        var spoken = !closed.Ok ? null
            : closed.Body.TryGetProperty("message", out var m) ? m.GetProperty("content").GetString()
            : closed.Body.TryGetProperty("error", out var e) ? e.GetString() : null;
        var afterClosed = (await Callbacks()).Where(x => x.GetProperty("callId").GetString() == closedCall).ToList();
        s.Check("Transfer while closed opens one callback and says when", closed.Ok && !closed.Body.TryGetProperty("destination", out _)
                && spoken is not null && spoken.Contains("call you back", StringComparison.Ordinal) && afterClosed.Count == 1,
            $"{(int)closed.Status}: \"{spoken}\"; callbacks for the call after two requests: {afterClosed.Count}");

        // request_callback, twice with the same arguments.
        var toolCall = $"call-{Guid.NewGuid()}";
        var args = new { reason = "wants to talk about a consultation", preferredTime = "after 5pm" };
        var tool1 = await Vapi(ToolCall(toolCall, "+447911123458", "request_callback", args));
        await Vapi(ToolCall(toolCall, "+447911123458", "request_callback", args));
        var fromTool = (await Callbacks()).Where(x => x.GetProperty("callId").GetString() == toolCall).ToList();
        s.Check("Callback from request_callback", tool1.Ok && fromTool.Count == 1 && fromTool[0].GetProperty("phone").GetString() == "+447911123458",
            $"{(int)tool1.Status}; callbacks for the call after two tool calls: {fromTool.Count}, number {(fromTool.Count == 1 ? fromTool[0].GetProperty("phone").GetString() : "-")}");

        // End-of-call report of a transfer that did not connect.
        var failedCall = $"call-{Guid.NewGuid()}";
        var report = await Vapi(new
        {
            timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), type = "end-of-call-report", endedReason = "call.forwarding.operator-busy",
            startedAt = DateTimeOffset.UtcNow.AddMinutes(-3).ToString("o"), endedAt = DateTimeOffset.UtcNow.ToString("o"),
            artifact = new { transcript = "User: can I speak to someone\nAI: putting you through" },
            call = new { id = failedCall, type = "inboundPhoneCall" }, customer = new { number = "+447911123459" },
        });
        var fromFailed = (await Callbacks()).Where(x => x.GetProperty("callId").GetString() == failedCall).ToList();
        s.Check("Callback from a transfer that did not connect", report.Ok && fromFailed.Count == 1
                && fromFailed[0].GetProperty("source").GetString() == "transfer_failed",
            $"end-of-call-report endedReason call.forwarding.operator-busy → {(int)report.Status}, callbacks: {fromFailed.Count}");

        // The caller and the date: a known caller by name, an unknown one gets nothing personal.
        await Api.Expect(run.Api.PostAsync($"/api/clinics/{c.Id}/patients", run.Api.ServiceToken(), new { name = "Valerie Validate", phone = "+12025550143" }), "create patient");
        var known = await Vapi(AssistantRequest("+12025550143"));
        var unknown = await Vapi(AssistantRequest("+447911123460"));
        JsonElement Values(ApiResult r) => r.Ok ? r.Body.GetProperty("assistantOverrides").GetProperty("variableValues") : default;
        var kv = Values(known);
        var uv = Values(unknown);
        var localNow = TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById(Timezone));
        var dateOk = kv.ValueKind == JsonValueKind.Object && kv.GetProperty("today").GetString() == localNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)
                     && kv.GetProperty("weekday").GetString() == localNow.ToString("dddd", CultureInfo.InvariantCulture);
        var first = kv.ValueKind == JsonValueKind.Object && kv.TryGetProperty("patientFirstName", out var f) ? f.GetString() : null;
        var leaked = uv.ValueKind != JsonValueKind.Object || uv.TryGetProperty("patientFirstName", out _) || uv.TryGetProperty("nextAppointment", out _);
        s.Check("Variable values: the clinic's date and time, the known caller by name, nothing for an unknown one", dateOk && first == "Valerie" && !leaked,
            kv.ValueKind == JsonValueKind.Object
                ? $"today {kv.GetProperty("today")}, {kv.GetProperty("weekday")} {kv.GetProperty("localTime")} ({Timezone}), openNow {kv.GetProperty("openNow")}; known caller → {first ?? "no name"}; unknown caller → {(leaked ? "personal values!" : "nothing personal")}"
                : $"assistant-request answered {(int)known.Status}");

        // A gap: recorded, answered, then the answer is found.
        var gapCall = $"call-{Guid.NewGuid()}";
        var asked = await Vapi(ToolCall(gapCall, "+447911123461", "lookup_knowledge", new { question = "Do you sell gift vouchers?" }));
        var gaps = (await Api.Expect(run.Api.GetAsync($"/api/clinics/{c.Id}/knowledge/gaps?status=open", staff), "list gaps")).Body;
        var gap = gaps.EnumerateArray().FirstOrDefault();
        var answered = gap.ValueKind == JsonValueKind.Object
            ? await run.Api.PostAsync($"/api/clinics/{c.Id}/knowledge/gaps/{gap.GetProperty("id").GetGuid()}/answer", admin,
                new { answer = "Yes: gift vouchers from 50 pounds are sold at reception, valid for a year." })
            : null;
        var again = await Vapi(ToolCall($"call-{Guid.NewGuid()}", "+447911123462", "lookup_knowledge", new { question = "can I buy a gift voucher" }));
        var heard = again.Ok ? again.Body.GetProperty("results")[0].GetProperty("result").GetString() : null;
        s.Check("Knowledge gap recorded, answered and found", asked.Ok && gap.ValueKind == JsonValueKind.Object && answered is { Ok: true }
                && heard is not null && heard.Contains("gift vouchers from 50 pounds", StringComparison.Ordinal),
            $"gaps open after the question: {ValidationRun.Count(gaps)}; answer → {(answered is null ? "not sent" : ((int)answered.Status).ToString(CultureInfo.InvariantCulture))}; next caller hears: \"{heard}\"");
    }

    static object Transfer(string callId, string phone) => new
    {
        timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        type = "transfer-destination-request",
        artifact = new { transcript = "User: can I speak to someone at the front desk" },
        call = new { id = callId, type = "inboundPhoneCall", status = "in-progress" },
        customer = new { number = phone },
    };

    static object ToolCall(string callId, string phone, string name, object arguments)
    {
        var id = "call_" + Guid.NewGuid().ToString("N");
        return new
        {
            timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            type = "tool-calls",
            toolCallList = new[] { new { id, type = "function", function = new { name, arguments = JsonSerializer.Serialize(arguments) } } },
            call = new { id = callId, status = "in-progress" },
            customer = new { number = phone },
        };
    }

    static object AssistantRequest(string phone) => new
    {
        timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        type = "assistant-request",
        call = new { id = $"call-{Guid.NewGuid()}", type = "inboundPhoneCall", status = "ringing" },
        customer = new { number = phone },
    };
}
