namespace Frontdesk.Privacy.Detection;

/// <summary>One recognizer per entity family; each adds scored candidates and leaves overlap resolution to the detector.</summary>
internal interface IRecognizer
{
    IEnumerable<string> Types { get; }
    void Recognize(string text, List<DetectedEntity> candidates);
}

internal static class Candidates
{
    public static void Add(this List<DetectedEntity> list, string text, string type, int start, int end, double score)
    {
        if (end <= start) return;
        list.Add(new DetectedEntity(type, text[start..end], Math.Clamp(score, 0, 1), start, end));
    }
}
