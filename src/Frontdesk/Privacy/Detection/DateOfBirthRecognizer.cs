using System.Buffers;
using System.Text.RegularExpressions;

namespace Frontdesk.Privacy.Detection;

/// <summary>
/// Dates that a nearby cue ("born on", "date of birth", "DOB") marks as a birth date. A bare date is an appointment
/// as often as a birthday, so without a cue nothing is emitted.
/// </summary>
internal sealed partial class DateOfBirthRecognizer : IRecognizer
{
    private static readonly SearchValues<string> Cues = Context.Words(
        "born", "date of birth", "dob", "d.o.b", "birthday", "birth date", "birthdate", "date-of-birth");

    public IEnumerable<string> Types => [PiiTypes.DateOfBirth];

    public void Recognize(string text, List<DetectedEntity> candidates)
    {
        // Dates are looked for only in the stretch after each cue.
        var covered = 0;
        var cue = text.AsSpan().IndexOfAny(Cues);
        while (cue >= 0)
        {
            var from = Math.Max(cue, covered);
            var to = Math.Min(text.Length, cue + 70);
            foreach (var m in Pattern().EnumerateMatches(text.AsSpan(from, to - from)))
            {
                candidates.Add(text, PiiTypes.DateOfBirth, from + m.Index, from + m.Index + m.Length, 0.9);
                covered = from + m.Index + m.Length;
            }
            var next = text.AsSpan(cue + 1).IndexOfAny(Cues);
            cue = next < 0 ? -1 : cue + 1 + next;
        }
    }

    private const string Month =
        "(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\\.?";

    [GeneratedRegex(
        @"(?<![\w/.-])(?:" +
        @"\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})" +
        @"|\d{4}-\d{1,2}-\d{1,2}" +
        @"|\d{1,2}(?:st|nd|rd|th)?(?:\s+of)?\s+" + Month + @"(?:,?\s+(?:\d{4}|'?\d{2}))?" +
        @"|" + Month + @"\s+(?:the\s+)?\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?" +
        // a bare year only straight after "born in"
        @"|(?<=\bborn\s+in\s+)(?:19|20)\d{2}" +
        @")(?![\w/])", RegexOptions.IgnoreCase)]
    private static partial Regex Pattern();
}
