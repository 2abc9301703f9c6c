using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Frontdesk.Tests.Platform;

/// <summary>One generated request body and what was done to the seed to make it.</summary>
public sealed record MalformedBody(string Label, byte[] Bytes);

/// <summary>
/// Generates malformed variants of a seed body, property-style: every member of the seed (at any
/// depth, objects and arrays included) replaced in turn by each bad value — wrong types, NULs, huge
/// numbers, deep nesting, invalid UTF-8, lone surrogates, huge strings, empty objects, arrays instead
/// of objects — plus whole-body mutations. Values are spliced in as raw bytes, so bodies that no
/// JSON writer would produce (invalid UTF-8, lone surrogates) are generated too.
/// </summary>
public static class MalformedBodies
{
    const string Hole = "\u0001hole\u0001";

    static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    static readonly string Deep = new string('[', 200) + new string(']', 200);

    /// <summary>Values that replace one member.</summary>
    public static readonly (string Label, byte[] Raw)[] Values =
    [
        ("number", U("42")),
        ("string", U("\"x\"")),
        ("boolean", U("true")),
        ("null", U("null")),
        ("empty object", U("{}")),
        ("empty array", U("[]")),
        ("array of objects", U("[{}]")),
        ("empty string", U("\"\"")),
        ("NUL", U("\"a\\u0000b\"")),
        ("huge number", U("1e400")),
        ("huge integer", U("184467440737095516161844674407370955161")),
        ("1e30", U("1e30")),
        ("negative", U("-1e30")),
        ("huge string", U("\"" + new string('x', 100_000) + "\"")),
        ("lone surrogate", U("\"a\\ud800b\"")),
        ("lone low surrogate", U("\"\\udc00\"")),
        ("invalid UTF-8", [(byte)'"', 0x61, 0xFF, 0xFE, 0x62, (byte)'"']),
        ("overlong UTF-8", [(byte)'"', 0xC0, 0x80, (byte)'"']),
        ("deep nesting", U(Deep)),
        ("last date", U("\"9999-12-31\"")),                 // the day after does not exist
        ("last instant", U("\"9999-12-31T23:59:59Z\"")),
        ("first instant east", U("\"0001-01-01T00:00:00+14:00\"")),
    ];

    /// <summary>Every member path of the seed with <paramref name="perPath"/> of the bad values (rotating,
    /// so over a seed's paths every value is used), then every whole-body mutation.</summary>
    public static IEnumerable<MalformedBody> For(JsonNode seed, int perPath = int.MaxValue)
    {
        var turn = 0;
        foreach (var path in Paths(seed, ""))
        {
            var copy = seed.DeepClone();
            Set(copy, path, Hole);
            var text = U(copy.ToJsonString());
            var hole = U(JsonSerializer.Serialize(Hole));
            var at = IndexOf(text, hole);
            var take = Math.Min(perPath, Values.Length);
            for (var k = 0; k < take; k++, turn++)
            {
                var (label, raw) = Values[take == Values.Length ? k : turn % Values.Length];
                yield return new MalformedBody($"{path} ← {label}", [.. text.AsSpan(0, at), .. raw, .. text.AsSpan(at + hole.Length)]);
            }
        }
        var whole = U(seed.ToJsonString());
        yield return new("body ← empty object", U("{}"));
        yield return new("body ← array instead of object", U("[" + seed.ToJsonString() + "]"));
        yield return new("body ← empty array", U("[]"));
        yield return new("body ← null", U("null"));
        yield return new("body ← number", U("42"));
        yield return new("body ← string", U("\"x\""));
        yield return new("body ← empty", []);
        yield return new("body ← truncated", whole[..(whole.Length / 2)]);
        yield return new("body ← not JSON", U("not json"));
        yield return new("body ← deep nesting", U(new string('[', 5000) + new string(']', 5000)));
        yield return new("body ← deep objects", U(string.Concat(Enumerable.Repeat("{\"a\":", 1000)) + "1" + new string('}', 1000)));
        yield return new("body ← NUL in a member name", [.. U("{\"a\\u0000\": 1, "), .. whole.AsSpan(1)]);
        yield return new("body ← invalid UTF-8 in a member name", [.. U("{\""), 0xFF, .. U("\": 1, "), .. whole.AsSpan(1)]);
        yield return new("body ← lone surrogate in a member name", [.. U("{\"\\ud800\": 1, "), .. whole.AsSpan(1)]);
        yield return new("body ← trailing garbage", [.. whole, .. U("}{")]);
        yield return new("body ← UTF-16", Encoding.Unicode.GetBytes(seed.ToJsonString()));
    }

    static IEnumerable<string> Paths(JsonNode node, string prefix)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, child) in o)
                {
                    var path = prefix + "." + name;
                    yield return path;
                    if (child is not null)
                        foreach (var p in Paths(child, path)) yield return p;
                }
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    var path = $"{prefix}[{i}]";
                    yield return path;
                    if (a[i] is { } child)
                        foreach (var p in Paths(child, path)) yield return p;
                }
                break;
        }
    }

    static void Set(JsonNode root, string path, string value)
    {
        var node = root;
        var parts = Parse(path);
        for (var i = 0; i < parts.Count - 1; i++)
            node = parts[i] is string name ? node[name]! : node[(int)parts[i]]!;
        if (parts[^1] is string last) node[last] = value;
        else node[(int)parts[^1]] = value;
    }

    static List<object> Parse(string path)
    {
        var parts = new List<object>();
        var i = 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = i + 1;
                while (end < path.Length && path[end] != '.' && path[end] != '[') end++;
                parts.Add(path[(i + 1)..end]);
                i = end;
            }
            else
            {
                var end = path.IndexOf(']', i);
                parts.Add(int.Parse(path[(i + 1)..end], System.Globalization.CultureInfo.InvariantCulture));
                i = end + 1;
            }
        }
        return parts;
    }

    static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);

    /// <summary>Form bodies: each field in turn given a bad value (percent-encoded raw bytes included),
    /// repeated, or dropped; plus names that are themselves bad.</summary>
    public static IEnumerable<(string Label, string Body)> ForForm(IReadOnlyList<KeyValuePair<string, string>> seed)
    {
        static string Enc(string s) => Uri.EscapeDataString(s);
        string Join(IEnumerable<string> pairs) => string.Join('&', pairs);
        var encoded = seed.Select(p => Enc(p.Key) + "=" + Enc(p.Value)).ToList();
        var values = new (string Label, string Raw)[]
        {
            ("NUL", "a%00b"), ("huge", new string('x', 100_000)), ("invalid UTF-8", "%FF%FE"), ("lone surrogate", "%ED%A0%80"),
            ("overlong UTF-8", "%C0%80"), ("empty", ""), ("plus and percent", "+%25+%"), ("control characters", "%01%02%1B"),
        };
        for (var i = 0; i < seed.Count; i++)
        {
            foreach (var (label, raw) in values)
                yield return ($"{seed[i].Key} ← {label}", Join(encoded.Select((p, j) => j == i ? Enc(seed[i].Key) + "=" + raw : p)));
            yield return ($"{seed[i].Key} ← repeated with another value", Join(encoded.Append(Enc(seed[i].Key) + "=other")));
            yield return ($"{seed[i].Key} ← repeated with the same value", Join(encoded.Append(encoded[i])));
            yield return ($"{seed[i].Key} ← missing", Join(encoded.Where((_, j) => j != i)));
        }
        yield return ("form ← NUL in a name", Join(encoded.Append("a%00=1")));
        yield return ("form ← invalid UTF-8 in a name", Join(encoded.Append("%FF=1")));
        yield return ("form ← empty", "");
        yield return ("form ← not a form", "&&&===&=");
        yield return ("form ← many fields", Join(Enumerable.Range(0, 5000).Select(i => $"f{i}=1")));
    }
}
