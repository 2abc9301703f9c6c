using System.Buffers;
using System.Text.RegularExpressions;

namespace Frontdesk.Privacy.Detection;

/// <summary>NHS numbers: ten digits (usually spaced 3-3-4) whose last digit is the mod-11 check.</summary>
internal sealed partial class NhsNumberRecognizer : IRecognizer
{
    private static readonly SearchValues<string> Cues = Context.Words("nhs", "health service", "chi number", "patient number", "nhs no");

    public IEnumerable<string> Types => [PiiTypes.NhsNumber];

    public void Recognize(string text, List<DetectedEntity> candidates)
    {
        Span<char> digits = stackalloc char[10];
        foreach (var m in Pattern().EnumerateMatches(text))
        {
            if (Checksums.Digits(text.AsSpan(m.Index, m.Length), digits) != 10 || !Checksums.NhsMod11(digits)) continue;
            // One random ten-digit number in eleven passes mod 11, so a bare number loses to a phone reading.
            var score = Context.Before(text, m.Index, 50, Cues) ? 0.95 : 0.4;
            candidates.Add(text, PiiTypes.NhsNumber, m.Index, m.Index + m.Length, score);
        }
    }

    [GeneratedRegex(@"(?<![\d+\-])\d{3}(?<sep>[ -]?)\d{3}\k<sep>\d{4}(?![\d]|-\d)")]
    private static partial Regex Pattern();
}
