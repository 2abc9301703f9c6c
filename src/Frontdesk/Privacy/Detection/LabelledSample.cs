using System.Text.Json;
using System.Text.Json.Serialization;

namespace Frontdesk.Privacy.Detection;

/// <summary>One line of a labelled JSONL file: <c>{"id","text","entities":[{"type","start","end","value"}]}</c>.</summary>
public sealed record LabelledSample(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("entities")] IReadOnlyList<LabelledEntity> Entities)
{
    public IReadOnlyList<EntitySpan> Spans => [.. Entities.Select(e => new EntitySpan(e.Type, e.Start, e.End))];

    public static IReadOnlyList<LabelledSample> ReadJsonl(string path) =>
        [.. File.ReadLines(path).Where(l => !string.IsNullOrWhiteSpace(l))
            .Select(l => JsonSerializer.Deserialize<LabelledSample>(l) ?? throw new InvalidDataException($"Bad line in {path}"))];
}

public sealed record LabelledEntity(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("start")] int Start,
    [property: JsonPropertyName("end")] int End,
    [property: JsonPropertyName("value")] string? Value);
