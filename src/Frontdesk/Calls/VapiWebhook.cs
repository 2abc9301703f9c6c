using Microsoft.Extensions.DependencyInjection.Extensions;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Frontdesk.Calls;

/// <summary>
/// POST /vapi/webhook: authenticate (secret, optionally HMAC) before parsing, check the call
/// belongs to the clinic, then answer by message type — tool calls by name to every registered
/// <see cref="IVapiTool"/>, everything else to every <see cref="IVapiMessageHandler"/> of the type
/// (the first non-null response is the reply). Each (call, type[, tool call or status]) is
/// processed once; a repeat gets the stored first answer.
/// </summary>
public static partial class VapiWebhook
{
    public static IServiceCollection AddCalls(this IServiceCollection services)
    {
        services.TryAddSingleton<PublicUrl>();
        services.AddSingleton<AssistantConfig>();
        services.AddSingleton<IVapiTool, CheckAvailabilityTool>();
        services.AddSingleton<IVapiTool, BookAppointmentTool>();
        services.AddSingleton<IVapiTool, CancelAppointmentTool>();
        return services;
    }

    public static void MapVapiWebhook(this IEndpointRouteBuilder app) =>
        app.MapPost("/vapi/webhook", Handle).WithTags("Voice platform").AllowAnonymous();

    /// <summary>Types whose repeats are absorbed (and the discriminator of each).</summary>
    static string? DedupeKey(string type, JsonElement message) => type switch
    {
        "end-of-call-report" => "",
        "status-update" => message.Str("status") ?? "",
        "hang" => "",
        _ => null,
    };

    static async Task<Results<ContentHttpResult, ProblemHttpResult>> Handle(HttpRequest request, Db db, AssistantConfig assistant,
        IEnumerable<IVapiTool> tools, IEnumerable<IVapiMessageHandler> handlers, ILoggerFactory loggers, CancellationToken ct)
    {
        var clinic = await VapiAuth.AuthenticateAsync(request, db, ct) ?? await HmacOnlyClinicAsync(request, db, ct);
        if (clinic is null)
            return Problems.Problem(401, Problems.Unauthorized, "Vapi authentication failed",
                "Send the clinic's secret as X-Vapi-Secret or Authorization: Bearer.");

        byte[] body;
        using (var buffer = new MemoryStream())
        {
            await request.Body.CopyToAsync(buffer, ct);
            body = buffer.ToArray();
        }
        // vapi_hmac came with the clinic (one lookup per webhook: every round trip counts on tool calls).
        if (clinic.Hmac && !VapiSignature.IsValid(request, clinic.Secret, body, DateTimeOffset.UtcNow))
            return Problems.Problem(401, Problems.Unauthorized, "Vapi signature check failed",
                "This clinic requires x-signature (HMAC-SHA256 of \"{x-timestamp}.{body}\") with a fresh x-timestamp.");

        JsonElement message;
        string type;
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.Get("message") is not { ValueKind: JsonValueKind.Object } m || m.Str("type") is not { Length: > 0 and <= 100 } t)
                return Problems.Invalid("The body must be {\"message\": {\"type\": …}}.");
            message = m.Clone();
            type = t;
        }
        catch (JsonException)
        {
            return Problems.Problem(400, Problems.MalformedRequest, "The request could not be read", "The body is not valid JSON.");
        }

        if (Mismatch(clinic, message) is { } what)
        {
            Log.ClinicMismatch(loggers.CreateLogger("Frontdesk.Calls"), clinic.Id, what);
            return Problems.Problem(403, Problems.Forbidden, "The call does not belong to this clinic",
                $"The message's {what} is not the one configured for the authenticated clinic.");
        }

        var callId = VapiMessage.CallId(message);
        if (callId is { Length: > 200 }) return Problems.Invalid("call.id is at most 200 characters.");
        var context = new VapiContext(clinic, callId, VapiMessage.CustomerNumber(message), message);
        var log = loggers.CreateLogger("Frontdesk.Calls");

        switch (type)
        {
            case "tool-calls":
                return Json(await ToolCallsAsync(db, context, tools, log, ct));
            case "function-call":
                return Json(await FunctionCallAsync(context, tools, log, ct));
            case "assistant-request":
                return Json(assistant.For(clinic).ToJsonString());
        }

        var discriminator = DedupeKey(type, message);
        if (discriminator is null || callId is null)
            return Json(await DispatchAsync(context, type, handlers, ct) ?? "{}");

        var claims = context.Claims;
        var claim = await VapiEvents.ClaimAsync(db, claims, clinic.Id, callId, type, discriminator,
            VapiMessage.Time(message.Get("timestamp")), ct);
        if (!claim.Fresh)
        {
            Log.Repeat(log, clinic.Id, type);
            return Json(claim.StoredResponse
                        ?? await VapiEvents.AwaitResponseAsync(db, claims, clinic.Id, callId, type, discriminator, ct)
                        ?? "{}");
        }
        try
        {
            if (type is "end-of-call-report" or "status-update")
                await VapiEvents.RecordCallAsync(db, claims, clinic.Id, callId, type, message, message.GetRawText(), ct);
            var response = await DispatchAsync(context, type, handlers, ct) ?? "{}";
            await VapiEvents.CompleteAsync(db, claims, claim.Id!.Value, response, ct);
            return Json(response);
        }
        catch
        {
            await VapiEvents.ReleaseAsync(db, claims, claim.Id!.Value);
            throw;
        }
    }

    /// <summary>Every handler of the type runs; the first non-null response is the reply.</summary>
    static async Task<string?> DispatchAsync(VapiContext context, string type, IEnumerable<IVapiMessageHandler> handlers, CancellationToken ct)
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

    static async Task<string> ToolCallsAsync(Db db, VapiContext context, IEnumerable<IVapiTool> tools, ILogger log, CancellationToken ct)
    {
        var results = new JsonArray();
        foreach (var call in VapiMessage.ToolCalls(context.Message))
        {
            EventClaim? claim = null;
            if (context.CallId is { } callId && call.Id is { Length: <= 300 } id)
            {
                claim = await VapiEvents.ClaimAsync(db, context.Claims, context.Clinic.Id, callId, "tool-calls", id,
                    VapiMessage.Time(context.Message.Get("timestamp")), ct);
                if (!claim.Fresh)
                {
                    var stored = claim.StoredResponse
                                 ?? await VapiEvents.AwaitResponseAsync(db, context.Claims, context.Clinic.Id, callId, "tool-calls", id, ct);
                    results.Add(stored is null ? Result(call, null, "This request is still being processed.") : JsonNode.Parse(stored));
                    continue;
                }
            }
            JsonObject item;
            try
            {
                var (result, error) = await InvokeAsync(context, tools, call, log, ct);
                item = Result(call, result, error);
            }
            catch
            {
                if (claim?.Id is { } cid) await VapiEvents.ReleaseAsync(db, context.Claims, cid);
                throw;
            }
            if (claim?.Id is { } claimId) await VapiEvents.CompleteAsync(db, context.Claims, claimId, item.ToJsonString(), ct);
            results.Add(item);
        }
        return new JsonObject { ["results"] = results }.ToJsonString();
    }

    static async Task<string> FunctionCallAsync(VapiContext context, IEnumerable<IVapiTool> tools, ILogger log, CancellationToken ct)
    {
        var fc = context.Message.Get("functionCall");
        var name = fc?.Str("name");
        if (name is null) return new JsonObject { ["result"] = "No function was named." }.ToJsonString();
        var (result, error) = await InvokeAsync(context, tools, new VapiToolCall(null, name, VapiMessage.Arguments(fc?.Get("parameters"))), log, ct);
        return new JsonObject { ["result"] = result ?? error }.ToJsonString();
    }

    static async Task<(string? Result, string? Error)> InvokeAsync(VapiContext context, IEnumerable<IVapiTool> tools, VapiToolCall call,
        ILogger log, CancellationToken ct)
    {
        var tool = tools.FirstOrDefault(t => t.Name == call.Name);
        if (tool is null) return (null, $"Unknown tool {VapiMessage.OneLine(call.Name)}.");
        try
        {
            return (VapiMessage.OneLine(await tool.InvokeAsync(context, call.Arguments, ct)), null);
        }
        catch (VapiToolException e)
        {
            return (null, VapiMessage.OneLine(e.Message));
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            Log.ToolFailed(log, call.Name, e.GetType().Name, e);
            return (null, "Sorry, I could not do that just now. Please try again in a moment.");
        }
    }

    static JsonObject Result(VapiToolCall call, string? result, string? error)
    {
        var o = new JsonObject { ["toolCallId"] = call.Id, ["name"] = call.Name };
        if (error is null) o["result"] = result ?? "";
        else o["error"] = error;
        return o;
    }

    /// <summary>The configured id the message contradicts, or null.</summary>
    static string? Mismatch(VapiClinic clinic, JsonElement message)
    {
        var assistantId = message.Str("call", "assistantId") ?? message.Str("assistant", "id");
        if (clinic.AssistantId is { Length: > 0 } a && assistantId is not null && assistantId != a) return "assistant id";
        var numberId = message.Str("call", "phoneNumberId") ?? message.Str("phoneNumber", "id");
        if (clinic.PhoneNumberId is { Length: > 0 } p && numberId is not null && numberId != p) return "phone number id";
        return null;
    }

    /// <summary>A clinic that signs with HMAC and sends no secret header names itself with ?clinic={id};
    /// it is trusted only if the signature verifies.</summary>
    static async Task<VapiClinic?> HmacOnlyClinicAsync(HttpRequest request, Db db, CancellationToken ct)
    {
        if (!Guid.TryParse(request.Query["clinic"], out var id) || request.Headers["x-signature"].Count == 0) return null;
        var rows = await db.QueryOnceAsync<VapiClinic>(RequestClaims.AsSystem(SystemPath.WebhookClinicResolution), """
            select id, name, timezone, sms_from, vapi_assistant_id, vapi_phone_number_id, vapi_secret, vapi_hmac
            from clinics where id = @Id and vapi_hmac and vapi_secret is not null
            """, new { Id = id }, ct);
        return rows is [var c] ? c : null;
    }

    static ContentHttpResult Json(string json) => TypedResults.Content(json, "application/json", Encoding.UTF8);

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Vapi message for clinic {ClinicId} names another {What}; refused")]
        public static partial void ClinicMismatch(ILogger logger, Guid clinicId, string what);

        [LoggerMessage(Level = LogLevel.Information, Message = "Repeated Vapi {Type} for clinic {ClinicId}: stored answer returned")]
        public static partial void Repeat(ILogger logger, Guid clinicId, string type);

        [LoggerMessage(Level = LogLevel.Error, Message = "Vapi tool {Tool} failed with {ExceptionType}")]
        public static partial void ToolFailed(ILogger logger, string tool, string exceptionType, Exception e);
    }
}
