using System.Buffers;

namespace Frontdesk.Privacy.Detection;

/// <summary>Context words near a candidate raise its score, as Presidio's context enhancer does.</summary>
internal static class Context
{
    public static SearchValues<string> Words(params string[] words) =>
        SearchValues.Create(words, StringComparison.OrdinalIgnoreCase);

    public static bool Before(string text, int start, int window, SearchValues<string> words)
    {
        var from = Math.Max(0, start - window);
        return text.AsSpan(from, start - from).IndexOfAny(words) >= 0;
    }

    public static bool After(string text, int end, int window, SearchValues<string> words)
    {
        var to = Math.Min(text.Length, end + window);
        return text.AsSpan(end, to - end).IndexOfAny(words) >= 0;
    }

    public static bool Around(string text, int start, int end, int window, SearchValues<string> words) =>
        Before(text, start, window, words) || After(text, end, window, words);
}
