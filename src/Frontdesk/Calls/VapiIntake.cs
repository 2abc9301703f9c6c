using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Frontdesk.Calls;

/// <summary>What processing a deduplicated Vapi message came to.</summary>
public abstract record IntakeOutcome
{
    /// <summary>The message's answer; <paramref name="Fresh"/> when this delivery did the work
    /// (false: an earlier delivery had, and this is its stored answer).</summary>
    public sealed record Processed(string Response, bool Fresh) : IntakeOutcome;

    /// <summary>Another delivery of the same message is still being processed.</summary>
    public sealed record Busy : IntakeOutcome;
}

/// <summary>
/// The one path a Vapi message takes, whether the webhook received it or reconciliation found the
/// call at Vapi: claim (call, type, discriminator), do the work in the claim's transaction, store
/// the answer, commit — all or nothing. Tool calls are claimed one by one (per toolCallId), and
/// effect tools (<see cref="IVapiEffectTool"/>) are also serialized and de-duplicated per phone call.
/// </summary>
public sealed partial class VapiIntake(Db db, IEnumerable<IVapiTool> tools, IEnumerable<IVapiMessageHandler> handlers,
    VapiOptions options, Frontdesk.Privacy.Vault vault, ILogger<VapiIntake> log)
{
    /// <summary>The row of a phone call that serializes its effect tools and remembers the last one.</summary>
    const string EffectsType = "tool-effects";

    /// <summary>Spoken when a tool call waits on another delivery of itself; not stored, so the retry gets the real answer.</summary>
    public const string StillWorking = "I'm still working on that request. Please give me a moment and ask again.";

    const string TransientFailure = "Sorry, I could not do that just now. Please try again in a moment.";

    public async Task<IntakeOutcome> ProcessAsync(VapiContext context, string type, string discriminator, CancellationToken ct)
    {
        var callId = context.CallId ?? throw new ArgumentException("A deduplicated message needs a call id.", nameof(context));
        var claim = await VapiEvents.ClaimAsync(db, context.Claims, context.Clinic.Id, callId, type, discriminator,
            VapiMessage.Time(context.Message.Get("timestamp")), options.DuplicateWait, ct);
        switch (claim)
        {
            case EventClaim.Answered a:
                return new IntakeOutcome.Processed(a.Response, Fresh: false);
            case EventClaim.Fresh f:
                await using (f.Session)
                {
                    if (type is "end-of-call-report" or "status-update")
                        await VapiEvents.RecordCallAsync(f.Session, vault, context.Clinic, callId, type, context.Message, ct);
                    var response = await DispatchAsync(context with { Session = f.Session }, type, ct) ?? "{}";
                    await VapiEvents.CompleteAsync(f.Session, f.Id, response, ct);
                    await f.Session.CommitAsync(ct);
                    return new IntakeOutcome.Processed(response, Fresh: true);
                }
            default:
                return new IntakeOutcome.Busy();
        }
    }

    /// <summary>Every handler of the type runs; the first non-null response is the reply.</summary>
    public async Task<string?> DispatchAsync(VapiContext context, string type, CancellationToken ct)
    {
        object? reply = null;
        foreach (var h in handlers.Where(h => h.Type == type))
        {
            var r = await h.HandleAsync(context, ct);
            reply ??= r;
        }
        return reply switch
        {
            null => null,
            string s => s,
            JsonNode n => n.ToJsonString(),
            _ => JsonSerializer.Serialize(reply, reply.GetType(), JsonSerializerOptions.Web),
        };
    }

    public async Task<string> ToolCallsAsync(VapiContext context, CancellationToken ct)
    {
        var results = new JsonArray();
        foreach (var call in VapiMessage.ToolCalls(context.Message))
            results.Add(await ToolCallAsync(context, call, ct));
        return new JsonObject { ["results"] = results }.ToJsonString();
    }

    /// <summary>Vapi's legacy function-call: no toolCallId, so no per-call answer to replay; effect
    /// tools are still de-duplicated per phone call.</summary>
    public async Task<string> FunctionCallAsync(VapiContext context, CancellationToken ct)
    {
        var fc = context.Message.Get("functionCall");
        if (fc?.Str("name") is not { } name) return new JsonObject { ["result"] = "No function was named." }.ToJsonString();
        var item = await ToolCallAsync(context, new VapiToolCall(null, name, VapiMessage.Arguments(fc?.Get("parameters"))), ct);
        return new JsonObject { ["result"] = (item["result"] ?? item["error"])?.DeepClone() }.ToJsonString();
    }

    async Task<JsonObject> ToolCallAsync(VapiContext context, VapiToolCall call, CancellationToken ct)
    {
        var tool = tools.FirstOrDefault(t => t.Name == call.Name);
        if (tool is null) return Result(call, null, $"Unknown tool {VapiMessage.OneLine(call.Name)}.");

        DbSession session;
        long? claimId = null;
        if (!tool.ReadsOnly && context.CallId is { } callId && call.Id is { Length: <= 300 } id)
        {
            var claim = await VapiEvents.ClaimAsync(db, context.Claims, context.Clinic.Id, callId, "tool-calls", id,
                VapiMessage.Time(context.Message.Get("timestamp")), options.DuplicateWait, ct);
            switch (claim)
            {
                case EventClaim.Answered a:
                    return JsonNode.Parse(a.Response)!.AsObject();
                case EventClaim.Busy:
                    Log.ToolBusy(log, context.Clinic.Id, call.Name);
                    return Result(call, null, StillWorking);
            }
            var fresh = (EventClaim.Fresh)claim;
            (session, claimId) = (fresh.Session, fresh.Id);
        }
        else
        {
            session = await db.BeginAsync(context.Claims, ct);
        }

        await using (session)
        {
            var scoped = context with { Session = session };
            string? result, error;
            try
            {
                (result, error) = tool is IVapiEffectTool ? await EffectOnceAsync(scoped, tool, call, ct) : await InvokeAsync(scoped, tool, call, ct);
            }
            catch (EffectBusyException)
            {
                Log.ToolBusy(log, context.Clinic.Id, call.Name);
                return Result(call, null, StillWorking);
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
            {
                // Nothing of this tool call commits (the session rolls back): a retry does it afresh.
                Log.ToolFailed(log, call.Name, e.GetType().Name, e);
                return Result(call, null, TransientFailure);
            }
            var item = Result(call, result, error);
            if (claimId is { } cid) await VapiEvents.CompleteAsync(session, cid, item.ToJsonString(), ct);
            await session.CommitAsync(ct);
            return item;
        }
    }

    sealed class EffectBusyException : Exception;

    sealed record LastEffect(string Key, string Result);

    /// <summary>
    /// Effect tools, once per phone call: the call's tool-effects row is locked (so effect tools of
    /// one call run one at a time, across instances), and when the last effect of the call was this
    /// same tool with the same arguments, its answer is returned without running the tool again —
    /// the model re-issued it. Any other effect in between makes the same request a new one.
    /// </summary>
    async Task<(string? Result, string? Error)> EffectOnceAsync(VapiContext context, IVapiTool tool, VapiToolCall call, CancellationToken ct)
    {
        if (context.CallId is not { } callId) return await InvokeAsync(context, tool, call, ct);
        var s = context.Transaction;
        var row = await VapiEvents.LockAsync(s, context.Clinic.Id, callId, EffectsType, "", null, options.DuplicateWait, ct);
        if (row.Busy || row.Id is not { } rowId) throw new EffectBusyException();
        var key = EffectKey(tool.Name, call.Arguments);
        if (row.Response is { } stored && JsonSerializer.Deserialize<LastEffect>(stored, JsonSerializerOptions.Web) is { } last && last.Key == key)
        {
            Log.ToolReissued(log, context.Clinic.Id, tool.Name);
            return (last.Result, null);
        }
        var (result, error) = await InvokeAsync(context, tool, call, ct);
        if (error is null)
            await VapiEvents.CompleteAsync(s, rowId, JsonSerializer.Serialize(new LastEffect(key, result!), JsonSerializerOptions.Web), ct);
        return (result, error);
    }

    /// <summary>The tool and its arguments, independent of member order and spacing.</summary>
    public static string EffectKey(string toolName, JsonElement arguments)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
            Canonical(w, arguments);
        return toolName + ":" + Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
    }

    static void Canonical(Utf8JsonWriter w, JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                w.WriteStartObject();
                foreach (var p in e.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    w.WritePropertyName(p.Name);
                    Canonical(w, p.Value);
                }
                w.WriteEndObject();
                break;
            case JsonValueKind.Array:
                w.WriteStartArray();
                foreach (var item in e.EnumerateArray()) Canonical(w, item);
                w.WriteEndArray();
                break;
            case JsonValueKind.String:
                w.WriteStringValue(e.GetString()!.Trim());
                break;
            default:
                e.WriteTo(w);
                break;
        }
    }

    /// <summary>Runs the tool inside a savepoint: a <see cref="VapiToolException"/> undoes what it wrote
    /// and becomes the spoken error; the rest of the transaction (the claim) stays. A tool that only reads
    /// has nothing to undo and runs without one.</summary>
    static async Task<(string? Result, string? Error)> InvokeAsync(VapiContext context, IVapiTool tool, VapiToolCall call, CancellationToken ct)
    {
        var s = context.Transaction;
        var savepoint = !tool.ReadsOnly;
        if (savepoint) await s.ExecuteAsync("savepoint vapi_tool", null, ct);
        try
        {
            var result = VapiMessage.OneLine(await tool.InvokeAsync(context, call.Arguments, ct));
            if (savepoint) await s.ExecuteAsync("release savepoint vapi_tool", null, ct);
            return (result, null);
        }
        catch (VapiToolException e)
        {
            if (savepoint) await s.ExecuteAsync("rollback to savepoint vapi_tool", null, ct);
            return (null, VapiMessage.OneLine(e.Message));
        }
    }

    static JsonObject Result(VapiToolCall call, string? result, string? error)
    {
        var o = new JsonObject { ["toolCallId"] = call.Id, ["name"] = call.Name };
        if (error is null) o["result"] = result ?? "";
        else o["error"] = error;
        return o;
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "Vapi tool {Tool} failed with {ExceptionType}; nothing of it was committed")]
        public static partial void ToolFailed(ILogger logger, string tool, string exceptionType, Exception e);

        [LoggerMessage(Level = LogLevel.Information, Message = "Vapi tool {Tool} for clinic {ClinicId} waits on an earlier delivery; asked to retry")]
        public static partial void ToolBusy(ILogger logger, Guid clinicId, string tool);

        [LoggerMessage(Level = LogLevel.Information, Message = "Vapi tool {Tool} for clinic {ClinicId} re-issued with the same arguments; first answer returned")]
        public static partial void ToolReissued(ILogger logger, Guid clinicId, string tool);
    }
}
