using System.Text;
using System.Text.RegularExpressions;

namespace Frontdesk.Knowledge;

/// <summary>One searchable piece of a document: a paragraph or list item, with the document title and
/// the path of headings above it (a bold lead such as "**Price.**" counts as the last heading).</summary>
public sealed record Chunk(int Ordinal, string Heading, string Body);

/// <summary>
/// Splits Markdown or plain text along headings and paragraphs. A caller asks one thing at a time
/// ("how much is it", "can I drive after"), and in clinic documents one paragraph answers one thing,
/// so a paragraph is the unit; very long paragraphs are cut at sentence ends.
/// </summary>
public static partial class Chunker
{
    public const int MaxChunkChars = 1200;

    public static IReadOnlyList<Chunk> Split(string content)
    {
        var chunks = new List<Chunk>();
        var headings = new List<(int Level, string Text)>();
        var paragraph = new StringBuilder();

        void Flush()
        {
            var text = paragraph.ToString().Trim();
            paragraph.Clear();
            if (text.Length == 0) return;
            // Level-1 headings name the document: they are ranked with the title, not the path.
            var path = string.Join(" > ", headings.Where(h => h.Level > 1).Select(h => h.Text));
            var lead = BoldLead().Match(text);
            if (lead.Success)
                path = path.Length == 0 ? lead.Groups[1].Value.TrimEnd('.', ':') : $"{path} > {lead.Groups[1].Value.TrimEnd('.', ':')}";
            foreach (var piece in CutLong(text))
                chunks.Add(new Chunk(chunks.Count, path, piece));
        }

        foreach (var raw in content.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            var line = raw.TrimEnd();
            if (Heading(line) is var (level, heading))
            {
                Flush();
                headings.RemoveAll(x => x.Level >= level);
                headings.Add((level, heading));
                continue;
            }
            if (line.Trim().Length == 0)
            {
                Flush();
                continue;
            }
            // A list item starts its own chunk; its continuation lines are indented.
            if (ListItem().IsMatch(line)) Flush();
            if (paragraph.Length > 0) paragraph.Append(' ');
            paragraph.Append(ListItem().Replace(line.Trim(), ""));
        }
        Flush();
        return chunks;
    }

    static IEnumerable<string> CutLong(string text)
    {
        if (text.Length <= MaxChunkChars)
        {
            yield return text;
            yield break;
        }
        var current = new StringBuilder();
        foreach (var sentence in SentenceEnd().Split(text))
        {
            if (current.Length > 0 && current.Length + sentence.Length + 1 > MaxChunkChars)
            {
                yield return current.ToString().Trim();
                current.Clear();
            }
            // A single sentence longer than the limit is cut hard: nothing is dropped.
            for (var s = sentence; s.Length > 0;)
            {
                var take = Math.Min(s.Length, MaxChunkChars - current.Length);
                if (take <= 0)
                {
                    yield return current.ToString().Trim();
                    current.Clear();
                    continue;
                }
                current.Append(s.AsSpan(0, take)).Append(' ');
                s = s[take..];
            }
        }
        if (current.ToString().Trim() is { Length: > 0 } last) yield return last;
    }

    /// <summary>The first level-1 heading, which usually restates the document's title.</summary>
    public static string? FirstH1(string content) =>
        content.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n')
            .Select(l => Heading(l.TrimEnd()))
            .FirstOrDefault(h => h?.Level == 1)?.Text;

    /// <summary>
    /// An ATX heading ("## Price ##"): its level and text, or null. A hand parser because the pattern
    /// it replaces, <c>^(#{1,6})\s+(.+?)\s*#*\s*$</c>, backtracked cubically on a heading line with a
    /// long run of spaces (a 20 KB line pinned a core for minutes). A closing run of # is dropped
    /// when a space precedes it, as CommonMark says ("# C#" stays "C#").
    /// </summary>
    internal static (int Level, string Text)? Heading(string line)
    {
        var level = 0;
        while (level < line.Length && line[level] == '#') level++;
        if (level is 0 or > 6 || level == line.Length || !char.IsWhiteSpace(line[level])) return null;
        var text = line.AsSpan(level).Trim();
        var end = text.Length;
        while (end > 0 && text[end - 1] == '#') end--;
        if (end == 0) return null;
        if (end < text.Length && char.IsWhiteSpace(text[end - 1])) text = text[..end].TrimEnd();
        return (level, text.ToString());
    }

    /// <summary>Plain text for speech and for the model's context: no Markdown marks.</summary>
    public static string Plain(string text) => Spaces().Replace(Marks().Replace(text, ""), " ").Trim();

    [GeneratedRegex(@"^\s*(?:[-*+]|\d+[.)])\s+")]
    private static partial Regex ListItem();

    [GeneratedRegex(@"^\*\*(.{1,80}?)\*\*")]
    private static partial Regex BoldLead();

    [GeneratedRegex(@"(?<=[.!?])\s+")]
    private static partial Regex SentenceEnd();

    // Non-backtracking: "](" without a closing ")" made [^)]* scan to the end from every one (quadratic).
    [GeneratedRegex(@"\*\*|__|`|^#+\s*|\[|\]\([^)]*\)", RegexOptions.Multiline | RegexOptions.NonBacktracking)]
    private static partial Regex Marks();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
