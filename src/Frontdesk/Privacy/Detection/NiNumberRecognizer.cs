using System.Buffers;
using System.Text.RegularExpressions;

namespace Frontdesk.Privacy.Detection;

/// <summary>UK National Insurance numbers: prefix under HMRC rules, six digits, suffix A–D.</summary>
internal sealed partial class NiNumberRecognizer : IRecognizer
{
    private static readonly SearchValues<string> Cues = Context.Words("national insurance", "ni number", "ni no", "nino", "n.i.", "insurance number");

    public IEnumerable<string> Types => [PiiTypes.NiNumber];

    public void Recognize(string text, List<DetectedEntity> candidates)
    {
        foreach (Match m in Pattern().Matches(text))
        {
            if (!IsValidPrefix(m.Groups["prefix"].ValueSpan)) continue;
            var cue = Context.Before(text, m.Index, 50, Cues);
            var upper = char.IsUpper(m.ValueSpan[0]) && char.IsUpper(m.ValueSpan[^1]);
            var score = cue ? 0.95 : upper ? 0.65 : 0.4;
            candidates.Add(text, PiiTypes.NiNumber, m.Index, m.Index + m.Length, score);
        }
    }

    /// <summary>
    /// HMRC: neither letter is D, F, I, Q, U or V; the second is not O; and BG, GB, KN, NK, NT, TN and ZZ are never issued.
    /// </summary>
    internal static bool IsValidPrefix(ReadOnlySpan<char> prefix)
    {
        if (prefix.Length != 2) return false;
        var a = char.ToUpperInvariant(prefix[0]);
        var b = char.ToUpperInvariant(prefix[1]);
        if ("DFIQUV".Contains(a) || "DFIQUVO".Contains(b)) return false;
        Span<char> p = [a, b];
        return p is not ("BG" or "GB" or "KN" or "NK" or "NT" or "TN" or "ZZ");
    }

    [GeneratedRegex(@"(?<![\p{L}\d])(?<prefix>[A-Z]{2})[ ]?\d{2}[ ]?\d{2}[ ]?\d{2}[ ]?[A-D](?![\p{L}\d])", RegexOptions.IgnoreCase)]
    private static partial Regex Pattern();
}
