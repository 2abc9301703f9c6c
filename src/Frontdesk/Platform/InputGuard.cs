using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;

namespace Frontdesk.Platform;

/// <summary>
/// Text a client sends must be text PostgreSQL can store: well-formed UTF-8, no lone surrogates,
/// no NUL (PostgreSQL's text and jsonb cannot hold U+0000). Checked at the edge so the database is
/// never the first to notice: typed JSON bodies through a serializer modifier (binding fails → 400),
/// bodies a handler parses itself through <see cref="TryParseJson"/>, forms through
/// <see cref="ReadFormAsync"/>.
/// </summary>
public static class InputGuard
{
    /// <summary>Why the JSON is not acceptable, or null. Invalid UTF-8 and lone surrogates pass
    /// <see cref="JsonDocument.Parse(ReadOnlyMemory{byte}, JsonDocumentOptions)"/> and only throw
    /// later, from GetString or GetRawText; NUL is valid JSON but not storable text.</summary>
    public static string? JsonProblem(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);   // default depth limit (64) and strict grammar
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName)) continue;
                if (!reader.ValueIsEscaped)
                {
                    if (!Utf8.IsValid(reader.ValueSpan)) return "The body holds bytes that are not UTF-8.";
                    continue;
                }
                string text;
                try
                {
                    text = reader.GetString()!;
                }
                catch (InvalidOperationException)
                {
                    return "The body holds text that is not valid UTF-8 or UTF-16 (a lone surrogate).";
                }
                if (text.Contains('\0', StringComparison.Ordinal)) return "The body holds a NUL character (\\u0000), which cannot be stored.";
            }
            return null;
        }
        catch (JsonException)
        {
            return "The body is not valid JSON (or nests deeper than 64 levels).";
        }
    }

    /// <summary>Parses a body the handler reads itself; on failure <paramref name="problem"/> is the 400 to return.</summary>
    public static bool TryParseJson(ReadOnlyMemory<byte> body, out JsonElement root, out ProblemHttpResult? problem)
    {
        if (JsonProblem(body.Span) is { } why)
        {
            root = default;
            problem = Problems.Problem(400, Problems.MalformedRequest, "The request could not be read", why);
            return false;
        }
        using var doc = JsonDocument.Parse(body);
        root = doc.RootElement.Clone();
        problem = null;
        return true;
    }

    /// <summary>The form, or the 400 to return: ASP.NET's form reader throws InvalidDataException for
    /// control characters (NUL included) and past its limits (1,024 fields), which is the client's doing.</summary>
    public static async Task<(IFormCollection? Form, ProblemHttpResult? Problem)> ReadFormAsync(HttpRequest request, CancellationToken ct)
    {
        try
        {
            return (await request.ReadFormAsync(ct), null);
        }
        catch (InvalidDataException e)
        {
            return (null, Problems.Problem(400, Problems.MalformedRequest, "The form could not be read", e.Message));
        }
    }

    /// <summary>Serializer modifier: a string member (or an element of a string collection member)
    /// holding NUL fails deserialization, so binding answers 400 before any handler runs. A modifier
    /// rather than a string converter: custom converters make OpenAPI describe strings as "any".</summary>
    public static void RejectNul(JsonTypeInfo typeInfo)
    {
        if (typeInfo.Kind != JsonTypeInfoKind.Object) return;
        var texts = typeInfo.Properties.Where(p => p.Get is not null
            && (p.PropertyType == typeof(string) || typeof(IEnumerable<string>).IsAssignableFrom(p.PropertyType))).ToArray();
        if (texts.Length == 0) return;
        var previous = typeInfo.OnDeserialized;
        typeInfo.OnDeserialized = value =>
        {
            foreach (var p in texts)
            {
                var held = p.Get!(value);
                if (held is string s ? s.Contains('\0', StringComparison.Ordinal) : held is IEnumerable<string> list && list.Any(x => x?.Contains('\0', StringComparison.Ordinal) == true))
                    throw new JsonException($"{p.Name} holds a NUL character (\\u0000), which cannot be stored.");
            }
            previous?.Invoke(value);
        };
    }

    /// <summary>A body (or member) bound as JsonElement is checked like a body a handler parses itself:
    /// the stock converter takes invalid UTF-8 and lone surrogates, and the handler's first
    /// GetString or property name then throws (a 500). OpenAPI already describes JsonElement as "any".</summary>
    public sealed class CheckedJsonElement : JsonConverter<JsonElement>
    {
        public override JsonElement Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            using var doc = JsonDocument.ParseValue(ref reader);
            if (JsonProblem(JsonMarshal.GetRawUtf8Value(doc.RootElement)) is { } why) throw new JsonException(why);
            return doc.RootElement.Clone();
        }

        public override void Write(Utf8JsonWriter writer, JsonElement value, JsonSerializerOptions options) => value.WriteTo(writer);
    }
}
