using Frontdesk.Manage;
using Microsoft.Extensions.DependencyInjection.Extensions;
using System.Text;
using System.Text.Json;

namespace Frontdesk.Calls;

/// <summary>
/// POST /vapi/webhook: authenticate (secret, optionally HMAC) before parsing, check the call
/// belongs to the clinic, then answer by message type through <see cref="VapiIntake"/> — tool calls
/// by name to every registered <see cref="IVapiTool"/>, everything else to every
/// <see cref="IVapiMessageHandler"/> of the type (the first non-null response is the reply). Each
/// (call, type[, tool call or status]) is processed once; a repeat gets the stored first answer, a
/// duplicate of a message still being processed gets 503 with Retry-After.
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
        services.AddSingleton<IVapiTool, ListMyAppointmentsTool>();        // issue 17: the caller's bookings, moves by voice
        services.AddSingleton<IVapiTool, RescheduleAppointmentTool>();
        services.TryAddSingleton<Frontdesk.Booking.BookingChangeSms>();
        services.AddManageLinks();
        services.AddSingleton<VapiIntake>();
        services.AddVapiReconciliation();
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
        VapiIntake intake, ILoggerFactory loggers, CancellationToken ct)
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

        // Text and types are checked here, at the edge, so no value reaches the database it cannot store.
        if (!InputGuard.TryParseJson(body, out var root, out var unreadable)) return unreadable!;
        if (root.Get("message") is not { ValueKind: JsonValueKind.Object } message)
            return Problems.Invalid("The body must be {\"message\": {\"type\": …}}.");
        if (VapiMessage.Invalid(message) is { } invalid) return Problems.Invalid(invalid);
        var type = message.Str("type")!;

        if (Mismatch(clinic, message) is { } what)
        {
            Log.ClinicMismatch(loggers.CreateLogger("Frontdesk.Calls"), clinic.Id, what);
            return Problems.Problem(403, Problems.Forbidden, "The call does not belong to this clinic",
                $"The message's {what} is not the one configured for the authenticated clinic.");
        }

        var callId = VapiMessage.CallId(message);
        var context = new VapiContext(clinic, callId, VapiMessage.CustomerNumber(message), message);
        var log = loggers.CreateLogger("Frontdesk.Calls");

        switch (type)
        {
            case "tool-calls":
                return Json(await intake.ToolCallsAsync(context, ct));
            case "function-call":
                return Json(await intake.FunctionCallAsync(context, ct));
            case "assistant-request":
                return Json((await assistant.ForCallAsync(context, ct)).ToJsonString());
        }

        var discriminator = DedupeKey(type, message);
        if (discriminator is null || callId is null)
            return Json(await intake.DispatchAsync(context, type, ct) ?? "{}");

        switch (await intake.ProcessAsync(context, type, discriminator, ct))
        {
            case IntakeOutcome.Processed { Fresh: true } done:
                return Json(done.Response);
            case IntakeOutcome.Processed repeat:
                Log.Repeat(log, clinic.Id, type);
                return Json(repeat.Response);
            default:
                // The first delivery is still at work (or its instance is dying with the claim): never
                // acknowledge what nobody has processed yet. Vapi retries non-2xx answers under the
                // server's backoffPlan (AssistantConfig sets one); reconciliation finds it otherwise.
                Log.InProgress(log, clinic.Id, type);
                request.HttpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Problems.Problem(503, Problems.InProgress, "This message is still being processed",
                    "Another delivery of the same message holds it; retry after the Retry-After delay.");
        }
    }

    const int RetryAfterSeconds = 5;

    /// <summary>The configured id the message contradicts, or null.</summary>
    internal static string? Mismatch(VapiClinic clinic, JsonElement message)
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

        [LoggerMessage(Level = LogLevel.Warning, Message = "Vapi {Type} for clinic {ClinicId} is still being processed by another delivery; answered 503 Retry-After")]
        public static partial void InProgress(ILogger logger, Guid clinicId, string type);
    }
}
