using System.Text.RegularExpressions;

namespace Frontdesk.Privacy.Detection;

/// <summary>Written addresses, and the spoken form a transcript gives ("john dot smith at gmail dot com").</summary>
internal sealed partial class EmailRecognizer : IRecognizer
{
    public IEnumerable<string> Types => [PiiTypes.Email];

    public void Recognize(string text, List<DetectedEntity> candidates)
    {
        if (text.Contains('@'))
        {
            foreach (var m in Written().EnumerateMatches(text))
                candidates.Add(text, PiiTypes.Email, m.Index, m.Index + m.Length, 0.95);
        }
        // Spoken emails always say "at" and end in "dot" + a known top-level domain.
        if (!text.Contains(" dot ", StringComparison.OrdinalIgnoreCase)) return;
        // The spoken pattern is costly to try at every word, so it runs only in a window around each " at ".
        var covered = 0;
        for (var at = text.IndexOf(" at ", StringComparison.OrdinalIgnoreCase); at >= 0;
             at = text.IndexOf(" at ", at + 4, StringComparison.OrdinalIgnoreCase))
        {
            var from = Math.Max(covered, at - 80);
            while (from > covered && from < at && !char.IsWhiteSpace(text[from - 1])) from++;
            var to = Math.Min(text.Length, at + 80);
            foreach (var m in Spoken().EnumerateMatches(text.AsSpan(from, to - from)))
            {
                if (m.Index + from > at) break;
                candidates.Add(text, PiiTypes.Email, from + m.Index, from + m.Index + m.Length, 0.85);
                covered = from + m.Index + m.Length;
            }
        }
    }

    // The local part is at most 64 characters (RFC 5321): unbounded, every start in a long run such as
    // "%a%a%a…" scanned to its end looking for an @ (quadratic; 100,000 characters took half a second).
    [GeneratedRegex(@"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![\w])")]
    private static partial Regex Written();

    [GeneratedRegex(@"(?<![\w])(?:[a-z0-9]+[ ](?:dot|underscore|dash|hyphen)[ ])*[a-z0-9]+[ ]at[ ][a-z0-9]+(?:[ ]dot[ ][a-z0-9]+)*[ ]dot[ ](?:com|net|org|co[ ]dot[ ]uk|co|uk|io|edu|gov|nhs[ ]dot[ ]uk|nhs|me|info|us|ac[ ]dot[ ]uk)(?![\w])", RegexOptions.IgnoreCase)]
    private static partial Regex Spoken();
}
