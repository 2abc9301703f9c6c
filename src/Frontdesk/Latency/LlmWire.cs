using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Frontdesk.Latency;

/// <summary>OpenAI chat-completions JSON ↔ Microsoft.Extensions.AI: what Vapi sends becomes
/// ChatMessages and ChatOptions; each upstream update becomes one <c>chat.completion.chunk</c>.</summary>
public static class LlmWire
{
    public static List<ChatMessage> ToMessages(JsonElement messages)
    {
        var list = new List<ChatMessage>(messages.GetArrayLength() + 1);
        foreach (var m in messages.EnumerateArray())
        {
            var role = Str(m, "role");
            var text = Knowledge.KnowledgeSpeech.Content(m);
            switch (role)
            {
                case "system" or "developer":
                    list.Add(new ChatMessage(ChatRole.System, text ?? ""));
                    break;
                case "user":
                    list.Add(new ChatMessage(ChatRole.User, text ?? ""));
                    break;
                case "assistant":
                    var contents = new List<AIContent>();
                    if (!string.IsNullOrEmpty(text)) contents.Add(new TextContent(text));
                    if (m.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                        foreach (var c in calls.EnumerateArray())
                        {
                            var f = c.GetProperty("function");
                            contents.Add(new FunctionCallContent(Str(c, "id") ?? "", Str(f, "name") ?? "", Arguments(Str(f, "arguments"))));
                        }
                    list.Add(new ChatMessage(ChatRole.Assistant, contents));
                    break;
                case "tool" or "function":
                    list.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(Str(m, "tool_call_id") ?? Str(m, "name") ?? "", text ?? "")]));
                    break;
                default:
                    throw new FormatException($"Unknown message role '{role}'.");
            }
        }
        return list;
    }

    static Dictionary<string, object?> Arguments(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return [];
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, object?>>(json) ?? [];
        }
        catch (JsonException)
        {
            throw new FormatException("A tool call's arguments are not a JSON object.");
        }
    }

    public static ChatOptions ToOptions(JsonElement body, string model)
    {
        var o = new ChatOptions { ModelId = model };
        if (body.TryGetProperty("temperature", out var t) && t.ValueKind == JsonValueKind.Number) o.Temperature = t.GetSingle();
        if (body.TryGetProperty("max_tokens", out var mt) && mt.ValueKind == JsonValueKind.Number) o.MaxOutputTokens = mt.GetInt32();
        if (body.TryGetProperty("max_completion_tokens", out var mct) && mct.ValueKind == JsonValueKind.Number) o.MaxOutputTokens = mct.GetInt32();
        if (body.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() > 0)
        {
            o.Tools = [];
            foreach (var tool in tools.EnumerateArray())
            {
                if (!tool.TryGetProperty("function", out var f)) continue;
                var schema = f.TryGetProperty("parameters", out var p) && p.ValueKind == JsonValueKind.Object
                    ? p
                    : JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement;
                o.Tools.Add(AIFunctionFactory.CreateDeclaration(Str(f, "name") ?? throw new FormatException("A tool has no name."), Str(f, "description"), schema));
            }
        }
        if (body.TryGetProperty("tool_choice", out var choice))
            o.ToolMode = choice.ValueKind switch
            {
                JsonValueKind.String => choice.GetString() switch { "none" => ChatToolMode.None, "required" => ChatToolMode.RequireAny, _ => ChatToolMode.Auto },
                JsonValueKind.Object when choice.TryGetProperty("function", out var cf) && Str(cf, "name") is { } n => ChatToolMode.RequireSpecific(n),
                _ => null,
            };
        return o;
    }

    /// <summary>One SSE event <c>data: {chat.completion.chunk}\n\n</c> for an upstream update.</summary>
    public static void WriteChunk(IBufferWriter<byte> buffer, ChatResponseUpdate u, string fallbackId, string model, bool first)
    {
        buffer.Write("data: "u8);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", u.ResponseId ?? fallbackId);
            w.WriteString("object", "chat.completion.chunk");
            w.WriteNumber("created", (u.CreatedAt ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds());
            w.WriteString("model", u.ModelId ?? model);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("delta");
            if (first) w.WriteString("role", "assistant");
            var text = u.Text;
            if (text.Length > 0) w.WriteString("content", text);
            var calls = u.Contents.OfType<FunctionCallContent>().ToList();
            if (calls.Count > 0)
            {
                w.WriteStartArray("tool_calls");
                for (var i = 0; i < calls.Count; i++) WriteToolCall(w, calls[i], i);
                w.WriteEndArray();
            }
            w.WriteEndObject();
            if (u.FinishReason is { } f) w.WriteString("finish_reason", f.Value);
            else w.WriteNull("finish_reason");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }
        buffer.Write("\n\n"u8);
    }

    public static void WriteToolCall(Utf8JsonWriter w, FunctionCallContent call, int index)
    {
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteString("id", call.CallId);
        w.WriteString("type", "function");
        w.WriteStartObject("function");
        w.WriteString("name", call.Name);
        w.WriteString("arguments", JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>()));
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The non-streaming <c>chat.completion</c> object.</summary>
    public static byte[] Completion(ChatResponse r, string fallbackId, string model)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", r.ResponseId ?? fallbackId);
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", (r.CreatedAt ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds());
            w.WriteString("model", r.ModelId ?? model);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            var text = r.Text;
            if (text.Length > 0) w.WriteString("content", text);
            else w.WriteNull("content");
            var calls = r.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().ToList();
            if (calls.Count > 0)
            {
                w.WriteStartArray("tool_calls");
                for (var i = 0; i < calls.Count; i++) WriteToolCall(w, calls[i], i);
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteString("finish_reason", r.FinishReason?.Value ?? "stop");
            w.WriteEndObject();
            w.WriteEndArray();
            if (r.Usage is { } usage)
            {
                w.WriteStartObject("usage");
                w.WriteNumber("prompt_tokens", usage.InputTokenCount ?? 0);
                w.WriteNumber("completion_tokens", usage.OutputTokenCount ?? 0);
                w.WriteNumber("total_tokens", usage.TotalTokenCount ?? 0);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    static string? Str(JsonElement e, string name) => Knowledge.KnowledgeSpeech.Str(e, name);
}
