using System.Text.Json;

namespace Frontdesk.Calls;

/// <summary>What every Vapi tool and message handler gets: the authenticated clinic, the call,
/// the raw message (already parsed once), and the transaction the message is processed in.</summary>
public sealed record VapiContext(VapiClinic Clinic, string? CallId, string? CustomerNumber, JsonElement Message)
{
    /// <summary>Claims for this clinic's tenant transactions (the agent acts for the clinic).</summary>
    public RequestClaims Claims => RequestClaims.ForClinic(Clinic.Id, "vapi_agent", "agent");

    /// <summary>The transaction that holds this message's idempotency claim: what is written here
    /// commits together with the stored answer, exactly once, or not at all. Always set for tools;
    /// set for handlers of the deduplicated types (end-of-call-report, status-update, hang).</summary>
    public DbSession? Session { get; init; }

    /// <summary><see cref="Session"/>, where the caller knows there is one (every tool).</summary>
    public DbSession Transaction => Session ?? throw new InvalidOperationException("This Vapi message is not processed in a transaction.");
}

/// <summary>A function the voice agent can call (Vapi "tool-calls" / legacy "function-call").
/// Results are spoken: return one line of plain text; throw <see cref="VapiToolException"/> for an
/// error the agent should say (whatever the tool wrote is then rolled back).
/// Write through <see cref="VapiContext.Transaction"/>: the work commits with the answer stored
/// for the toolCallId, so a retry of the same tool call gets that answer and changes nothing.</summary>
public interface IVapiTool
{
    string Name { get; }
    Task<string> InvokeAsync(VapiContext context, JsonElement arguments, CancellationToken ct);

    /// <summary>True for a tool that only reads (its <see cref="VapiToolException"/>s come from its arguments,
    /// never from a failed statement). Such a call has nothing to make idempotent or to undo: it runs in a
    /// plain tenant transaction, without the toolCallId claim, the stored answer and the savepoint, and a
    /// repeat of its toolCallId is answered afresh (issue 16: the busiest tool call, two writes and four round
    /// trips fewer).</summary>
    bool ReadsOnly => false;
}

/// <summary>
/// A tool that changes something (books, cancels, records a callback). Besides the per-toolCallId
/// answer every tool gets, the webhook runs effect tools one at a time per phone call, and when
/// the model re-issues the same tool with the same arguments (a new toolCallId, typically after a
/// timeout) before any other effect tool ran in the call, it gets the first answer and nothing runs
/// again. Implementing this marker is all a tool needs to do.
/// </summary>
public interface IVapiEffectTool : IVapiTool;

public sealed class VapiToolException(string message) : Exception(message);

/// <summary>Handles one Vapi server-message type ("end-of-call-report", "transcript", …). Several
/// handlers may share a type; the first non-null response is the reply. For the deduplicated types,
/// write through <see cref="VapiContext.Session"/> so the work commits with the stored answer.</summary>
public interface IVapiMessageHandler
{
    string Type { get; }
    Task<object?> HandleAsync(VapiContext context, CancellationToken ct);
}
