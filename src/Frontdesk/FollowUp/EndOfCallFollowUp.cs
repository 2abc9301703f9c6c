using System.Text.Json;
using Frontdesk.Calls;

namespace Frontdesk.FollowUp;

/// <summary>
/// Vapi's end-of-call-report → the follow-up planner. Outcomes are read from the report's top
/// level (endedReason) and its analysis; the nested call is a snapshot from the start of the call
/// and says nothing about how it ended.
/// </summary>
public sealed class EndOfCallFollowUp(FollowUpPlanner planner) : IVapiMessageHandler
{
    public string Type => "end-of-call-report";

    public async Task<object?> HandleAsync(VapiContext context, CancellationToken ct)
    {
        if (context.CallId is null) return null;
        var m = context.Message;
        var structured = m.Get("analysis", "structuredData") is { ValueKind: JsonValueKind.Object } sd ? sd : (JsonElement?)null;
        var call = new CallEnded(
            context.Clinic.Id,
            context.CallId,
            "vapi",
            context.CustomerNumber,
            Cap(structured?.Str("patientName") ?? structured?.Str("name") ?? m.Str("customer", "name")),
            Cap(structured?.Str("procedure") ?? structured?.Str("keyword")),
            Booked(structured),
            m.Str("artifact", "transcript") ?? m.Str("transcript"),
            m.Str("endedReason"),
            null);
        // In the report's claim transaction when there is one: the follow-up and the stored answer commit together.
        if (context.Session is { } session) await planner.PlanAsync(session, call, ct);
        else await planner.PlanAsync(context.Claims, call, ct);
        return null;
    }

    static bool? Booked(JsonElement? structured)
    {
        foreach (var key in new[] { "bookingConfirmed", "booked", "appointmentBooked" })
            if (structured?.Get(key) is { ValueKind: JsonValueKind.True or JsonValueKind.False } v) return v.GetBoolean();
        return null;
    }

    static string? Cap(string? s) => s is { Length: > 200 } ? s[..200] : s;
}
