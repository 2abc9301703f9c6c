using System.Text.Json;

namespace Frontdesk.Calls;

/// <summary>What every Vapi tool and message handler gets: the authenticated clinic, the call,
/// and the raw message (already parsed once).</summary>
public sealed record VapiContext(VapiClinic Clinic, string? CallId, string? CustomerNumber, JsonElement Message)
{
    /// <summary>Claims for this clinic's tenant transactions (the agent acts for the clinic).</summary>
    public RequestClaims Claims => RequestClaims.ForClinic(Clinic.Id, "vapi_agent", "agent");
}

/// <summary>A function the voice agent can call (Vapi "tool-calls" / legacy "function-call").
/// Results are spoken: return one line of plain text; throw <see cref="VapiToolException"/> for an
/// error the agent should say.</summary>
public interface IVapiTool
{
    string Name { get; }
    Task<string> InvokeAsync(VapiContext context, JsonElement arguments, CancellationToken ct);
}

public sealed class VapiToolException(string message) : Exception(message);

/// <summary>Handles one Vapi server-message type ("end-of-call-report", "transcript", …). Several
/// handlers may share a type; the first non-null response is the reply.</summary>
public interface IVapiMessageHandler
{
    string Type { get; }
    Task<object?> HandleAsync(VapiContext context, CancellationToken ct);
}
