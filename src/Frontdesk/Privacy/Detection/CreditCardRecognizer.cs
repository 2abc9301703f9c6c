using System.Buffers;
using System.Text.RegularExpressions;

namespace Frontdesk.Privacy.Detection;

/// <summary>Payment card numbers of 12–19 digits, optionally grouped by spaces or dashes, that pass Luhn.</summary>
internal sealed partial class CreditCardRecognizer : IRecognizer
{
    private static readonly SearchValues<string> Cues = Context.Words(
        "card", "visa", "mastercard", "master card", "amex", "american express", "discover", "maestro", "credit", "debit", "cc", "pay");

    public IEnumerable<string> Types => [PiiTypes.CreditCard];

    public void Recognize(string text, List<DetectedEntity> candidates)
    {
        Span<char> digits = stackalloc char[24];
        foreach (var m in Pattern().EnumerateMatches(text))
        {
            var n = Checksums.Digits(text.AsSpan(m.Index, m.Length), digits);
            if (n is < 12 or > 19 || !Checksums.Luhn(digits[..n])) continue;
            var cue = Context.Before(text, m.Index, 40, Cues);
            candidates.Add(text, PiiTypes.CreditCard, m.Index, m.Index + m.Length, cue ? 0.95 : 0.8);
        }
    }

    // Either one unbroken run or groups of 2–6 digits joined by one kind of separator; a leading "+" is a phone.
    [GeneratedRegex(@"(?<![\d+\-.])(?:\d{12,19}|\d{4}(?<sep>[ -])\d{2,6}(?:\k<sep>\d{1,6}){1,3})(?![\d]|[-.]\d)")]
    private static partial Regex Pattern();
}
