using System.Net;
using System.Text;
using System.Text.Json;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Calls;

/// <summary>
/// Issue 14, "the assistant we return can be rejected": Vapi validates the answer to an
/// assistant-request and ends the call (assistant-request-returned-invalid-assistant) when a member
/// is unknown or a value is outside its enum. Both shapes we return — an inline assistant, and the
/// clinic's own assistant id with overrides — are checked against Vapi's published schema.
/// </summary>
public class AssistantSchemaTests
{
    /// <summary>The members Vapi's API accepts, per schema (VapiAI/docs fern/apis/api/openapi.json, commit
    /// eabfa53 of 2026-08-20; Vapi refuses members a schema does not list).</summary>
    static readonly Dictionary<string, string[]> Members = new()
    {
        ["AssistantRequestResponse"] = ["assistant", "assistantId", "assistantOverrides", "destination", "error", "squad", "squadId",
            "squadOverrides", "workflow", "workflowId", "workflowOverrides"],
        ["CreateAssistantDTO"] = ["analysisPlan", "artifactPlan", "backgroundSound", "backgroundSpeechDenoisingPlan", "clientMessages",
            "compliancePlan", "credentialIds", "credentials", "endCallMessage", "endCallPhrases", "firstMessage", "firstMessageInterruptionsEnabled",
            "firstMessageMode", "hooks", "keypadInputPlan", "maxDurationSeconds", "metadata", "model", "modelOutputInMessagesEnabled", "monitorPlan",
            "name", "observabilityPlan", "server", "serverMessages", "startSpeakingPlan", "stopSpeakingPlan", "transcriber",
            "transportConfigurations", "voice", "voicemailDetection", "voicemailMessage"],
        ["AssistantOverrides"] = ["analysisPlan", "artifactPlan", "backgroundSound", "backgroundSpeechDenoisingPlan", "clientMessages",
            "compliancePlan", "credentialIds", "credentials", "endCallMessage", "endCallPhrases", "firstMessage", "firstMessageInterruptionsEnabled",
            "firstMessageMode", "hooks", "keypadInputPlan", "maxDurationSeconds", "metadata", "model", "modelOutputInMessagesEnabled", "monitorPlan",
            "name", "observabilityPlan", "server", "serverMessages", "startSpeakingPlan", "stopSpeakingPlan", "tools:append", "transcriber",
            "transportConfigurations", "variableValues", "voice", "voicemailDetection", "voicemailMessage"],
        ["Server"] = ["backoffPlan", "credentialId", "encryptedPaths", "headers", "staticIpAddressesEnabled", "timeoutSeconds", "url"],
        ["BackoffPlan"] = ["baseDelaySeconds", "excludedStatusCodes", "maxRetries", "type"],
        ["OpenAIModel"] = ["emotionRecognitionEnabled", "fallbackModels", "knowledgeBase", "maxTokens", "messages", "model", "numFastTurns",
            "promptCacheKey", "promptCacheRetention", "provider", "reasoningEffort", "temperature", "toolIds", "toolRefs",
            "toolStrictCompatibilityMode", "tools"],
        ["OpenAIMessage"] = ["content", "role"],
        ["CreateFunctionToolDTO"] = ["async", "function", "messages", "parameters", "rejectionPlan", "server", "type", "variableExtractionPlan"],
        ["CreateEndCallToolDTO"] = ["messages", "rejectionPlan", "type"],
        ["CreateTransferCallToolDTO"] = ["destinations", "messages", "rejectionPlan", "type"],
        ["OpenAIFunction"] = ["description", "name", "parameters", "strict"],
        ["CreateCustomKnowledgeBaseDTO"] = ["provider", "server"],
        ["AnalysisPlan"] = ["minMessagesThreshold", "outcomeIds", "structuredDataMultiPlan", "structuredDataPlan", "successEvaluationPlan", "summaryPlan"],
        ["StructuredDataPlan"] = ["enabled", "messages", "schema", "timeoutSeconds"],
        ["JsonSchema"] = ["description", "enum", "format", "items", "pattern", "properties", "required", "title", "type"],
    };

    static readonly string[] JsonSchemaTypes = ["string", "number", "integer", "boolean", "array", "object"];

    /// <summary>Vapi's assistant.serverMessages enum, from the shared copy of its OpenAPI.</summary>
    static HashSet<string> ServerMessageEnum()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var file = Path.Combine(dir.FullName, "shared", "data", "vapi", "server-messages.txt");
            if (File.Exists(file))
                return File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToHashSet(StringComparer.Ordinal);
        }
        throw new FileNotFoundException("shared/data/vapi/server-messages.txt was not found above the test binaries.");
    }

    static async Task<(JsonElement Inline, JsonElement ById)> AssistantsAsync()
    {
        var (_, inlineSecret) = await TwilioFixture.ClinicAsync(slots: 0);
        var (_, idSecret) = await TwilioFixture.ClinicAsync(slots: 0, assistantId: "asst_" + Guid.NewGuid().ToString("N"));
        async Task<JsonElement> Ask(string secret)
        {
            using var client = TestApp.Client(null);
            client.DefaultRequestHeaders.Add("X-Vapi-Secret", secret);
            using var r = await client.PostAsync("/vapi/webhook", new StringContent(JsonSerializer.Serialize(new
            {
                message = new { type = "assistant-request", call = new { id = Guid.NewGuid().ToString() }, customer = new { number = "+447911123456" } },
            }), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            return JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone();
        }
        return (await Ask(inlineSecret), await Ask(idSecret));
    }

    [Fact]
    public async Task Every_assistant_we_return_subscribes_only_to_server_messages_Vapi_accepts()
    {
        var allowed = ServerMessageEnum();
        Assert.Contains("end-of-call-report", allowed);
        var (inline, byId) = await AssistantsAsync();
        foreach (var messages in new[] { inline.GetProperty("assistant").GetProperty("serverMessages"), byId.GetProperty("assistantOverrides").GetProperty("serverMessages") })
        {
            var subscribed = messages.EnumerateArray().Select(m => m.GetString()!).ToList();
            Assert.All(subscribed, m => Assert.Contains(m, allowed));
            Assert.Contains("tool-calls", subscribed);
            Assert.Contains("end-of-call-report", subscribed);
        }
    }

    [Fact]
    public async Task Every_assistant_we_return_uses_only_members_and_values_Vapi_accepts()
    {
        var (inline, byId) = await AssistantsAsync();
        var problems = new List<string>();
        Check(inline, "AssistantRequestResponse", "$", problems);
        Check(byId, "AssistantRequestResponse", "$", problems);
        Assert.True(problems.Count == 0, string.Join("\n", problems));

        // What the fixes put in place of what Vapi refused.
        var assistant = inline.GetProperty("assistant");
        Assert.Contains(assistant.GetProperty("model").GetProperty("tools").EnumerateArray(), t => t.GetProperty("type").GetString() == "endCall");
        Assert.Equal("object", assistant.GetProperty("analysisPlan").GetProperty("structuredDataPlan").GetProperty("schema").GetProperty("type").GetString());
        Assert.True(assistant.GetProperty("analysisPlan").GetProperty("structuredDataPlan").GetProperty("enabled").GetBoolean());
        Assert.Equal("custom-knowledge-base", assistant.GetProperty("model").GetProperty("knowledgeBase").GetProperty("provider").GetString());
    }

    static void Check(JsonElement value, string schema, string path, List<string> problems)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            problems.Add($"{path} is {value.ValueKind}, Vapi expects an object ({schema})");
            return;
        }
        foreach (var member in value.EnumerateObject())
        {
            var at = $"{path}.{member.Name}";
            if (!Members[schema].Contains(member.Name))
            {
                problems.Add($"{at} is not a member of Vapi's {schema}");
                continue;
            }
            var child = member.Value;
            switch (schema, member.Name)
            {
                case ("AssistantRequestResponse", "assistant"): Check(child, "CreateAssistantDTO", at, problems); break;
                case ("AssistantRequestResponse", "assistantOverrides"): Check(child, "AssistantOverrides", at, problems); break;
                case (_, "server"): Check(child, "Server", at, problems); break;
                case ("Server", "backoffPlan"):
                    Check(child, "BackoffPlan", at, problems);
                    if (child.GetProperty("type").GetString() is not ("fixed" or "exponential")) problems.Add($"{at}.type is not fixed or exponential");
                    if (child.GetProperty("maxRetries").GetDouble() is < 0 or > 10) problems.Add($"{at}.maxRetries is outside 0–10");
                    if (child.GetProperty("baseDelaySeconds").GetDouble() is < 0 or > 10) problems.Add($"{at}.baseDelaySeconds is outside 0–10");
                    break;
                case ("CreateAssistantDTO" or "AssistantOverrides", "model"): Check(child, "OpenAIModel", at, problems); break;
                case ("CreateAssistantDTO" or "AssistantOverrides", "analysisPlan"): Check(child, "AnalysisPlan", at, problems); break;
                case ("AnalysisPlan", "structuredDataPlan"): Check(child, "StructuredDataPlan", at, problems); break;
                case ("StructuredDataPlan", "schema"): CheckJsonSchema(child, at, problems); break;
                case ("OpenAIModel", "knowledgeBase"):
                    Check(child, "CreateCustomKnowledgeBaseDTO", at, problems);
                    if (child.GetProperty("provider").GetString() != "custom-knowledge-base") problems.Add($"{at}.provider is not custom-knowledge-base");
                    break;
                case ("OpenAIModel", "messages"):
                    foreach (var (m, i) in child.EnumerateArray().Select((m, i) => (m, i))) Check(m, "OpenAIMessage", $"{at}[{i}]", problems);
                    break;
                case ("OpenAIModel", "tools"):
                    foreach (var (t, i) in child.EnumerateArray().Select((t, i) => (t, i)))
                    {
                        var tool = t.TryGetProperty("type", out var type) ? type.GetString() : null;
                        var dto = tool switch { "function" => "CreateFunctionToolDTO", "endCall" => "CreateEndCallToolDTO", "transferCall" => "CreateTransferCallToolDTO", _ => null };
                        if (dto is null) problems.Add($"{at}[{i}].type '{tool}' is not a tool type this test knows");
                        else Check(t, dto, $"{at}[{i}]", problems);
                    }
                    break;
                case ("CreateFunctionToolDTO", "function"): Check(child, "OpenAIFunction", at, problems); break;
                case ("OpenAIFunction", "parameters"): CheckJsonSchema(child, at, problems); break;
                case ("OpenAIFunction", "name") when child.GetString() is not { Length: > 0 and <= 64 } name || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'):
                    problems.Add($"{at} is not a function name (a-z, A-Z, 0-9, _ and -, at most 64)");
                    break;
                case ("CreateAssistantDTO", "name") when child.GetString() is { Length: > 40 }:
                    problems.Add($"{at} is longer than 40 characters");
                    break;
            }
        }
    }

    static void CheckJsonSchema(JsonElement schema, string path, List<string> problems)
    {
        Check(schema, "JsonSchema", path, problems);
        if (schema.ValueKind != JsonValueKind.Object) return;
        if (!schema.TryGetProperty("type", out var type) || !JsonSchemaTypes.Contains(type.GetString()))
            problems.Add($"{path}.type is required and one of {string.Join(", ", JsonSchemaTypes)}");
        if (schema.TryGetProperty("properties", out var properties))
            foreach (var p in properties.EnumerateObject()) CheckJsonSchema(p.Value, $"{path}.properties.{p.Name}", problems);
        if (schema.TryGetProperty("items", out var items)) CheckJsonSchema(items, $"{path}.items", problems);
    }
}
