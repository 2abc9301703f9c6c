using System.Buffers;
using System.Text.RegularExpressions;

namespace Frontdesk.Privacy.Detection;

/// <summary>US Social Security numbers under SSA rules: no 000, 666 or 9xx area, no 00 group, no 0000 serial, one separator style.</summary>
internal sealed partial class SsnRecognizer : IRecognizer
{
    private static readonly SearchValues<string> Cues = Context.Words("ssn", "social security", "social-security", "ss#", "ss #", "tax id", "taxpayer");

    public IEnumerable<string> Types => [PiiTypes.Ssn];

    public void Recognize(string text, List<DetectedEntity> candidates)
    {
        foreach (Match m in Pattern().Matches(text))
        {
            if (!IsValid(m.Groups["area"].ValueSpan, m.Groups["group"].ValueSpan, m.Groups["serial"].ValueSpan)) continue;
            var separated = m.Groups["sep"].Length > 0;
            var cue = Context.Before(text, m.Index, 40, Cues);
            // An unseparated nine-digit run is as likely an account or phone number; it needs a cue.
            var score = (separated, cue) switch
            {
                (true, true) => 0.95,
                (true, false) => 0.6,
                (false, true) => 0.8,
                _ => 0.3,
            };
            candidates.Add(text, PiiTypes.Ssn, m.Index, m.Index + m.Length, score);
        }
    }

    internal static bool IsValid(ReadOnlySpan<char> area, ReadOnlySpan<char> group, ReadOnlySpan<char> serial) =>
        area is not "000" and not "666" && area[0] != '9' && group is not "00" && serial is not "0000";

    /// <summary>True when <paramref name="value"/> is a whole SSN in one consistent format that passes the SSA rules.</summary>
    internal static bool IsValid(string value) =>
        Pattern().Match(value) is { Success: true } m && m.Length == value.Length
        && IsValid(m.Groups["area"].ValueSpan, m.Groups["group"].ValueSpan, m.Groups["serial"].ValueSpan);

    // The back-reference makes "123-45 6789" (mixed separators) fail to match at all.
    [GeneratedRegex(@"(?<![\d-])(?<area>\d{3})(?<sep>[- .]?)(?<group>\d{2})\k<sep>(?<serial>\d{4})(?![\d]|-\d)")]
    private static partial Regex Pattern();
}
