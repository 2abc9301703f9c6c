using System.Text.Json.Nodes;

namespace Frontdesk.Calls;

/// <summary>A tool that can describe itself to the model (name, purpose, JSON-schema parameters).
/// Tools without it are declared with free-form parameters.</summary>
public interface IVapiToolSchema
{
    string Description { get; }
    JsonObject Parameters();
}

/// <summary>Adds what depends on the call to the assistant-request answer (issue 17: the caller and the
/// date as <c>assistantOverrides.variableValues</c>). Runs before the call is answered: answer in
/// milliseconds, and never fail the call over it.</summary>
public interface IAssistantRequestContributor
{
    Task ContributeAsync(VapiContext context, JsonObject answer, CancellationToken ct);
}

/// <summary>
/// The answer to Vapi's assistant-request: the clinic's assistant, subscribed to the server
/// messages the back office relies on. An assistant that does not subscribe to end-of-call-report
/// is the usual reason a follow-up built on Vapi silently never fires.
/// </summary>
/// <remarks>
/// Vapi validates this answer against its API schema and ends the call
/// (assistant-request-returned-invalid-assistant) on any member it does not list or any value
/// outside an enum (AssistantSchemaTests checks both shapes against VapiAI/docs openapi.json):
/// serverMessages takes only its enum (knowledge-base-request is not one: knowledge is asked for
/// through model.knowledgeBase); the secret goes in server.headers (Server has no secret member);
/// ending the call is an endCall tool (there is no endCallFunctionEnabled); structured data is
/// analysisPlan.structuredDataPlan {enabled, schema}.
/// </remarks>
public sealed class AssistantConfig(IEnumerable<IVapiTool> tools, IEnumerable<IVapiMessageHandler> handlers, PublicUrl urls,
    IEnumerable<IAssistantRequestContributor> contributors)
{
    /// <summary>The answer for one call: <see cref="For"/>, then every contributor's additions.</summary>
    public async Task<JsonObject> ForCallAsync(VapiContext context, CancellationToken ct)
    {
        var answer = For(context.Clinic);
        foreach (var c in contributors) await c.ContributeAsync(context, answer, ct);
        return answer;
    }

    public static readonly string[] ServerMessages =
        ["tool-calls", "end-of-call-report", "status-update", "transcript", "conversation-update", "hang"];

    public JsonObject For(VapiClinic clinic)
    {
        // Vapi sends these headers with every request to the server: the webhook reads X-Vapi-Secret.
        var server = new JsonObject
        {
            ["url"] = urls.For("/vapi/webhook"),
            ["headers"] = new JsonObject { ["X-Vapi-Secret"] = clinic.Secret },
            // Vapi retries nothing by default; with a plan it retries non-2xx answers, such as the 503
            // Retry-After a duplicate gets while the first delivery is still being processed.
            ["backoffPlan"] = new JsonObject { ["type"] = "exponential", ["maxRetries"] = 5, ["baseDelaySeconds"] = 2 },
        };
        var messages = new JsonArray(ServerMessages.Select(m => (JsonNode)m).ToArray());
        var wantsKnowledge = handlers.Any(h => h.Type == "knowledge-base-request");
        // The transferCall tool below has no destinations: Vapi asks the server for one (Reception/Transfers.cs).
        var wantsTransfer = handlers.Any(h => h.Type == "transfer-destination-request");
        if (wantsTransfer) messages.Add("transfer-destination-request");

        if (clinic.AssistantId is { Length: > 0 } id)
            // The clinic's own assistant, with our server and subscriptions laid over it.
            return new JsonObject
            {
                ["assistantId"] = id,
                ["assistantOverrides"] = new JsonObject { ["server"] = server, ["serverMessages"] = messages },
            };

        var model = new JsonObject
        {
            ["provider"] = "openai",
            ["model"] = "gpt-4o-mini",
            ["messages"] = new JsonArray(new JsonObject
            {
                ["role"] = "system",
                ["content"] = $"You are the receptionist of {clinic.Name}. Help callers with questions about treatments and book, " +
                              "move or cancel consultations. Use check_availability before offering times and book_appointment " +
                              "with the slot id the caller chose. Never give medical advice; offer a consultation instead." +
                              ReceptionPrompt,
            }),
            ["tools"] = new JsonArray([.. tools.Select(Declare), new JsonObject { ["type"] = "endCall" }]),
        };
        if (wantsTransfer) ((JsonArray)model["tools"]!).Add(TransferCallTool());
        if (wantsKnowledge)
            model["knowledgeBase"] = new JsonObject { ["provider"] = "custom-knowledge-base", ["server"] = server.DeepClone() };

        return new JsonObject
        {
            ["assistant"] = new JsonObject
            {
                ["name"] = Truncate(clinic.Name + " reception", 40),
                ["firstMessage"] = $"Hello, thank you for calling {clinic.Name}. How can I help you today?",
                ["model"] = model,
                ["server"] = server,
                ["serverMessages"] = messages,
                ["analysisPlan"] = new JsonObject
                {
                    ["structuredDataPlan"] = new JsonObject
                    {
                        ["enabled"] = true,
                        ["schema"] = new JsonObject
                        {
                            ["type"] = "object",
                            ["properties"] = new JsonObject
                            {
                                ["procedure"] = new JsonObject { ["type"] = "string", ["description"] = "The treatment the caller asked about" },
                                ["patientName"] = new JsonObject { ["type"] = "string" },
                                ["bookingConfirmed"] = new JsonObject { ["type"] = "boolean" },
                            },
                        },
                    },
                },
            },
        };
    }

    /// <summary>The default prompt's use of the call's variables (Vapi fills {{name}} from
    /// assistantOverrides.variableValues; a variable without a value renders empty).</summary>
    public const string ReceptionPrompt =
        " You are answering for {{clinicName}}. Today is {{weekday}} {{today}} and the time at the clinic is {{localTime}}: work out " +
        "dates such as \"next Tuesday\" or \"tomorrow\" from this, never from what you assume. Open now: {{openNow}}. " +
        "Next opening time: {{nextOpening}}. {% if patientFirstName %}The caller's number belongs to a patient called " +
        "{{patientFirstName}}; greet them by name, and their next appointment is {{nextAppointment}}. {% endif %}" +
        "If the caller asks for a person, call transferCall; if the clinic cannot take the call, offer request_callback. " +
        "If the caller describes an emergency, tell them at once: {{emergencyInstruction}}";

    /// <summary>Vapi's transferCall tool with no fixed destination (the server is asked with
    /// transfer-destination-request). Its request-start message is empty: the server's answer says what
    /// the caller hears, which is not "transferring you" when the clinic is closed.</summary>
    static JsonObject TransferCallTool() => new()
    {
        ["type"] = "transferCall",
        // No function member: Vapi's CreateTransferCallToolDTO has none (AssistantSchemaTests); the
        // model knows the tool as transferCall, and the system prompt says when to use it.
        ["destinations"] = new JsonArray(),
        ["messages"] = new JsonArray(new JsonObject { ["type"] = "request-start", ["content"] = "" }),
    };

    static JsonNode Declare(IVapiTool tool) => new JsonObject
    {
        ["type"] = "function",
        ["async"] = false,
        ["function"] = new JsonObject
        {
            ["name"] = tool.Name,
            ["description"] = tool is IVapiToolSchema s ? s.Description : tool.Name.Replace('_', ' '),
            ["parameters"] = tool is IVapiToolSchema d ? d.Parameters() : new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() },
        },
    };

    static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}
