using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Frontdesk.Knowledge;

namespace Frontdesk.Latency;

/// <summary>
/// The custom-LLM relay's wire rules. The caller's OpenAI chat-completions request goes upstream as
/// sent — tools, legacy functions, max_tokens, stream_options and every other parameter untouched —
/// with four changes: the configured model, the clinic's knowledge as a system message before the
/// caller's last message, tool-call arguments sent as a JSON object turned into the JSON string
/// OpenAI's API requires, and Vapi's own members (call, customer, phoneNumber, metadata) removed
/// because OpenAI refuses unknown parameters. The answer comes back byte for byte.
/// </summary>
public static class LlmWire
{
    /// <summary>What Vapi adds to the request (metadataSendMode "variable", its default); not OpenAI parameters.</summary>
    static readonly string[] VapiMembers = ["call", "customer", "phoneNumber", "metadata"];

    // Text as sent (no \uXXXX for every non-ASCII letter); the upstream parses JSON either way.
    static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool", "function"];

    /// <summary>Why the body is not a chat-completions request the relay can forward, or null.</summary>
    public static string? Invalid(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object) return "The body must be a JSON object.";
        if (!body.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
            return "messages must be a non-empty array.";
        foreach (var m in messages.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object || KnowledgeSpeech.Str(m, "role") is not { } role || !Roles.Contains(role))
                return "Every message is an object with a role (system, developer, user, assistant, tool or function).";
            if (m.TryGetProperty("content", out var c) && c.ValueKind is not (JsonValueKind.String or JsonValueKind.Array or JsonValueKind.Null))
                return "A message's content is a string, an array of parts, or null.";
            if (m.TryGetProperty("tool_calls", out var calls) && calls.ValueKind != JsonValueKind.Null)
            {
                if (calls.ValueKind != JsonValueKind.Array) return "tool_calls is an array.";
                foreach (var call in calls.EnumerateArray())
                    if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("function", out var f) || InvalidFunctionCall(f) is not null)
                        return "Every tool call has a function with a name and arguments (a JSON string or object).";
            }
            if (m.TryGetProperty("function_call", out var fc) && fc.ValueKind != JsonValueKind.Null && InvalidFunctionCall(fc) is { } why)
                return why;
        }
        foreach (var list in (string[])["tools", "functions"])
            if (body.TryGetProperty(list, out var items) && items.ValueKind != JsonValueKind.Null
                && (items.ValueKind != JsonValueKind.Array || items.EnumerateArray().Any(i => i.ValueKind != JsonValueKind.Object)))
                return $"{list} is an array of objects.";
        if (body.TryGetProperty("stream", out var stream) && stream.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
            return "stream is true or false.";
        return null;
    }

    static string? InvalidFunctionCall(JsonElement f) =>
        f.ValueKind == JsonValueKind.Object && KnowledgeSpeech.Str(f, "name") is { Length: > 0 }
        && (!f.TryGetProperty("arguments", out var a) || a.ValueKind is JsonValueKind.String or JsonValueKind.Object or JsonValueKind.Null)
            ? null
            : "A function call has a name and arguments (a JSON string or object).";

    /// <summary>The caller's last user message, the question knowledge is looked up for.</summary>
    public static string? LastUserText(JsonElement body) =>
        body.TryGetProperty("messages", out var messages)
            ? messages.EnumerateArray().LastOrDefault(m => KnowledgeSpeech.Str(m, "role") == "user") is { ValueKind: JsonValueKind.Object } last
                ? KnowledgeSpeech.Content(last)
                : null
            : null;

    public static bool Streams(JsonElement body) => body.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;

    /// <summary>The request for the upstream (see the class summary for the four changes).</summary>
    public static byte[] ToUpstream(JsonElement body, string model, string? knowledge)
    {
        var request = JsonNode.Parse(body.GetRawText())!.AsObject();
        foreach (var name in VapiMembers) request.Remove(name);
        request["model"] = model;
        var messages = request["messages"]!.AsArray();
        foreach (var m in messages.OfType<JsonObject>())
        {
            if (m["tool_calls"] is JsonArray calls)
                foreach (var call in calls.OfType<JsonObject>())
                    ArgumentsAsText(call["function"] as JsonObject);
            ArgumentsAsText(m["function_call"] as JsonObject);
        }
        if (knowledge is not null)
        {
            // Just before the caller's last message: the prompt's prefix stays identical from turn to
            // turn, which lets the upstream's prompt cache work.
            var lastUser = -1;
            for (var i = 0; i < messages.Count; i++)
                if (messages[i]?["role"] is JsonValue r && r.TryGetValue<string>(out var role) && role == "user") lastUser = i;
            messages.Insert(lastUser < 0 ? messages.Count : lastUser, new JsonObject { ["role"] = "system", ["content"] = knowledge });
        }
        return Encoding.UTF8.GetBytes(request.ToJsonString(Compact));
    }

    /// <summary>OpenAI's API takes a function call's arguments as a JSON string; Vapi may send the object.</summary>
    static void ArgumentsAsText(JsonObject? function)
    {
        if (function?["arguments"] is JsonObject args) function["arguments"] = args.ToJsonString();
    }

    /// <summary>Whether an SSE data payload is an error event (<c>{"error": {…}}</c>), which ends the answer.</summary>
    public static bool IsError(ReadOnlySpan<char> data)
    {
        if (data.IsEmpty || data[0] != '{' || data.IndexOf("\"error\"", StringComparison.Ordinal) < 0) return false;
        try
        {
            using var doc = JsonDocument.Parse(data.ToString());
            return doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Our own error event, in OpenAI's error shape, for an upstream that broke off without one.</summary>
    public static byte[] ErrorEvent(string message) =>
        Encoding.UTF8.GetBytes("data: " + new JsonObject
        {
            ["error"] = new JsonObject { ["message"] = message, ["type"] = "upstream_error", ["code"] = null },
        }.ToJsonString() + "\n\n");

    /// <summary>An OpenAI error body's type and code (never its message: it can name the upstream account).</summary>
    public static (string? Type, string? Code) ErrorOf(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var e))
                return (KnowledgeSpeech.Str(e, "type"), e.ValueKind == JsonValueKind.Object && e.TryGetProperty("code", out var c)
                    && c.ValueKind is JsonValueKind.String or JsonValueKind.Number ? c.ToString() : null);
        }
        catch (JsonException)
        {
            // Not OpenAI's shape: the status says enough.
        }
        return (null, null);
    }
}
