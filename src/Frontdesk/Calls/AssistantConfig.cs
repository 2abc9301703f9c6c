using System.Text.Json.Nodes;

namespace Frontdesk.Calls;

/// <summary>A tool that can describe itself to the model (name, purpose, JSON-schema parameters).
/// Tools without it are declared with free-form parameters.</summary>
public interface IVapiToolSchema
{
    string Description { get; }
    JsonObject Parameters();
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
public sealed class AssistantConfig(IEnumerable<IVapiTool> tools, IEnumerable<IVapiMessageHandler> handlers, PublicUrl urls)
{
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
                              "with the slot id the caller chose. Never give medical advice; offer a consultation instead.",
            }),
            ["tools"] = new JsonArray([.. tools.Select(Declare), new JsonObject { ["type"] = "endCall" }]),
        };
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
