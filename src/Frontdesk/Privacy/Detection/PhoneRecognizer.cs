using System.Buffers;
using System.Text.RegularExpressions;
using PhoneNumbers;

namespace Frontdesk.Privacy.Detection;

/// <summary>
/// Phone numbers: libphonenumber validates national forms of the configured regions and every "+" international
/// form; a looser digit-group pattern catches other national layouts, but only a phone cue nearby lifts it over the
/// threshold (a bare "450 0840" is as likely a reference number).
/// </summary>
internal sealed partial class PhoneRecognizer(IReadOnlyList<string> regions) : IRecognizer
{
    private static readonly PhoneNumberUtil Util = PhoneNumberUtil.GetInstance();

    private static readonly SearchValues<string> Cues = Context.Words(
        "phone", "tel", "mobile", "cell", "fax", "desk", "office", "call", "ring", "reach", "contact", "number", "text me",
        "message", "answering", "dial", "landline", "extension", "whatsapp", "registered", "home:", "work:", "direct");

    public IEnumerable<string> Types => [PiiTypes.Phone];

    public void Recognize(string text, List<DetectedEntity> candidates)
    {
        var digitCount = 0;
        foreach (var c in text)
        {
            if (char.IsAsciiDigit(c) && ++digitCount >= 7) break;
        }
        if (digitCount < 7) return;

        foreach (var m in Loose().EnumerateMatches(text))
        {
            var span = text.AsSpan(m.Index, m.Length);
            var digits = 0;
            foreach (var c in span) if (char.IsAsciiDigit(c)) digits++;
            if (digits is < 7 or > 16) continue;
            var cue = Context.Before(text, m.Index, 40, Cues) || Context.After(text, m.Index + m.Length, 12, Cues);
            var valid = IsValidNumber(text, m.Index, m.Length);
            var score = (valid, cue) switch
            {
                (true, true) => 0.92,
                (true, false) => 0.7,
                (false, true) => 0.66,
                _ => span.ContainsAny(Separators) && span[0] is '+' or '(' ? 0.5 : 0.35,
            };
            candidates.Add(text, PiiTypes.Phone, m.Index, m.Index + m.Length, score);
        }
    }

    private static readonly SearchValues<char> Separators = SearchValues.Create(" .-()");

    /// <summary>libphonenumber's matcher over the candidate and a little margin, once per configured region.</summary>
    private bool IsValidNumber(string text, int start, int length)
    {
        var from = Math.Max(0, start - 1);
        var window = text.Substring(from, Math.Min(text.Length, start + length + 1) - from);
        foreach (var region in regions)
        {
            foreach (var match in Util.FindNumbers(window, region, PhoneNumberUtil.Leniency.VALID, long.MaxValue))
            {
                // A match must cover most of the candidate; a valid number inside a longer run does not vouch for it.
                if (match.RawString.Length * 10 >= length * 8) return true;
            }
        }
        return false;
    }

    [GeneratedRegex(
        @"(?<![\w+\-./])(?:" +
        // international prefix, optionally with the "(0)" trunk digit
        @"(?:\+\d{1,3}|00\d{1,3})[ .-]?(?:\(0\)[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,12}(?:[ .-]\d{1,8}){0,5}" +
        // national: optional area code in brackets, then groups
        @"|(?:\(\d{1,5}\)[ .-]?)?\d{2,11}(?:[ .-]\d{2,8}){0,5}" +
        // digits read out one by one
        @"|\d(?:[ ]\d){6,14}" +
        @")(?:[ ]?(?:x|ext\.?|extension)[ ]?\d{1,5})?(?![\w]|[.-]\d)",
        RegexOptions.IgnoreCase)]
    private static partial Regex Loose();
}
