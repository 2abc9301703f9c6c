using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Frontdesk.Calls;

/// <summary>One function call the assistant asked for.</summary>
public sealed record VapiToolCall(string? Id, string Name, JsonElement Arguments);

/// <summary>Reading Vapi's server messages as they really arrive: ISO or epoch-millisecond
/// timestamps, tool arguments as a JSON object or as a JSON string, tool calls in toolCallList or
/// toolWithToolCallList.</summary>
public static partial class VapiMessage
{
    static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    public static JsonElement? Get(this JsonElement e, params string[] path)
    {
        foreach (var p in path)
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(p, out e)) return null;
        }
        return e.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined ? null : e;
    }

    /// <summary>A string member; null when absent, null or of another type (a number is not an id or a
    /// type: <see cref="Invalid"/> refuses wrong types of the members the webhook relies on).</summary>
    public static string? Str(this JsonElement e, params string[] path) =>
        e.Get(path) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    /// <summary>A scalar member as text. For tool arguments: a model writes 10 as readily as "10".</summary>
    public static string? Scalar(this JsonElement e, params string[] path) =>
        e.Get(path) is { } v ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.GetRawText(),
            _ => null,
        } : null;

    static readonly string[][] StringMembers =
    [
        ["type"], ["status"], ["endedReason"], ["call", "id"], ["call", "assistantId"], ["call", "phoneNumberId"],
        ["assistant", "id"], ["phoneNumber", "id"], ["customer", "number"], ["call", "customer", "number"],
    ];

    /// <summary>Why the message cannot be processed, or null: the members the webhook keys on, stores or
    /// compares have the JSON type and size Vapi sends (checked before any of them reaches the database).</summary>
    public static string? Invalid(JsonElement message)
    {
        foreach (var name in new[] { "call", "customer", "assistant", "phoneNumber", "analysis", "artifact" })
            if (message.Get(name) is { ValueKind: not JsonValueKind.Object })
                return $"{name} must be an object.";
        foreach (var path in StringMembers)
            if (message.Get(path) is { ValueKind: not JsonValueKind.String })
                return $"{string.Join('.', path)} must be a string.";
        if (message.Str("type") is not { Length: > 0 and <= 100 })
            return "The body must be {\"message\": {\"type\": …}} with a type of 1–100 characters.";
        if (CallId(message) is { Length: 0 or > 200 })
            return "call.id is 1–200 characters.";
        if (message.Str("status") is { Length: > 100 })
            return "status is at most 100 characters.";
        foreach (var number in (string[])["cost", "durationSeconds"])
            if (message.Get(number) is { } n && (n.ValueKind != JsonValueKind.Number || !n.TryGetDecimal(out _)))
                return $"{number} must be a number.";
        return null;
    }

    public static string? CallId(JsonElement message) => message.Str("call", "id");

    public static string? CustomerNumber(JsonElement message) =>
        message.Str("customer", "number") ?? message.Str("call", "customer", "number");

    /// <summary>ISO 8601 text, or epoch milliseconds (seconds when the number is small).</summary>
    public static DateTimeOffset? Time(JsonElement? value)
    {
        if (value is not { } v) return null;
        if (v.ValueKind == JsonValueKind.String) return Time(v.GetString());
        return v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var num) ? FromEpoch(num) : null;
    }

    public static DateTimeOffset? Time(string? s)
    {
        if (string.IsNullOrWhiteSpace(s)) return null;
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var n)) return FromEpoch(n);
        return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var d) && ClinicTime.Plausible(d) ? d.ToUniversalTime() : null;
    }

    static DateTimeOffset? FromEpoch(double n) =>
        n switch
        {
            > 1e11 and < 1e14 => DateTimeOffset.FromUnixTimeMilliseconds((long)n),
            > 1e8 and <= 1e11 => DateTimeOffset.FromUnixTimeSeconds((long)n),
            _ => null,
        };

    /// <summary>Tool calls from toolCallList and toolWithToolCallList, each id once.</summary>
    public static IReadOnlyList<VapiToolCall> ToolCalls(JsonElement message)
    {
        var calls = new List<VapiToolCall>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        if (message.Get("toolCallList") is { ValueKind: JsonValueKind.Array } list)
            foreach (var tc in list.EnumerateArray())
                Add(tc.Str("id"), tc.Str("function", "name") ?? tc.Str("name"), tc.Get("function", "arguments") ?? tc.Get("arguments"));
        if (message.Get("toolWithToolCallList") is { ValueKind: JsonValueKind.Array } with)
            foreach (var t in with.EnumerateArray())
                Add(t.Str("toolCall", "id"), t.Str("toolCall", "function", "name") ?? t.Str("function", "name") ?? t.Str("name"),
                    t.Get("toolCall", "function", "arguments") ?? t.Get("toolCall", "arguments"));
        return calls;

        void Add(string? id, string? name, JsonElement? args)
        {
            if (string.IsNullOrEmpty(name)) return;
            if (id is not null && !seen.Add(id)) return;
            calls.Add(new VapiToolCall(id, name, Arguments(args)));
        }
    }

    /// <summary>An arguments object from an object, or from a string holding one; {} otherwise.</summary>
    public static JsonElement Arguments(JsonElement? args)
    {
        if (args is not { } a) return EmptyObject;
        if (a.ValueKind == JsonValueKind.Object) return a;
        if (a.ValueKind == JsonValueKind.String && a.GetString() is { Length: > 0 } text)
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                if (doc.RootElement.ValueKind == JsonValueKind.Object) return doc.RootElement.Clone();
            }
            catch (JsonException)
            {
                // Not JSON: the tool sees no arguments and says what it needs.
            }
        }
        return EmptyObject;
    }

    /// <summary>Vapi ignores results with line breaks: one line, collapsed whitespace.</summary>
    public static string OneLine(string text) => Whitespace().Replace(text, " ").Trim();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
