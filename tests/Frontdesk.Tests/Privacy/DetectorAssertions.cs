using Frontdesk.Privacy.Detection;

namespace Frontdesk.Tests.Privacy;

internal static class DetectorAssertions
{
    public static readonly PiiDetector Detector = new();

    public static IReadOnlyList<DetectedEntity> Detect(string text, PiiDetector? detector = null)
    {
        var found = (detector ?? Detector).Detect(text);
        foreach (var e in found) Assert.Equal(e.Value, text[e.StartPos..e.EndPos]);
        return found;
    }

    public static DetectedEntity Single(string text, string type)
    {
        var found = Detect(text).Where(e => e.Type == type).ToList();
        Assert.True(found.Count == 1, $"expected one {type} in \"{text}\", found: {Describe(found)}");
        return found[0];
    }

    public static void None(string text, string type)
    {
        var found = Detect(text).Where(e => e.Type == type).ToList();
        Assert.True(found.Count == 0, $"expected no {type} in \"{text}\", found: {Describe(found)}");
    }

    public static string Describe(IEnumerable<DetectedEntity> entities) =>
        string.Join("; ", entities.Select(e => $"{e.Type} '{e.Value}' {e.Confidence:0.00}"));
}
