using System.Collections.Frozen;

namespace Frontdesk.Privacy.Detection;

/// <summary>
/// Person names: runs of capitalised words on one line (with initials and particles such as "van"), scored by cues
/// ("my name is", "Dr.", "speaking") and by first-name and surname lexicons. Titles are not part of the value.
/// </summary>
internal sealed class NameRecognizer : IRecognizer
{
    private const int MaxTokens = 4;

    private static readonly FrozenSet<string> Titles = new[]
    {
        "mr", "mrs", "ms", "miss", "mx", "dr", "doctor", "prof", "professor", "sir", "dame", "lady", "lord", "nurse", "rev",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenSet<string> Particles = new[]
    {
        "van", "von", "de", "da", "di", "del", "della", "der", "den", "du", "la", "le", "ten", "ter", "bin", "al", "dos", "das", "y",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Capitalised words that are never names here, whatever the lexicons say: calendar words, address and form words.</summary>
    private static readonly FrozenSet<string> Stop = new[]
    {
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today", "tomorrow", "yesterday",
        "street", "st", "road", "rd", "lane", "avenue", "ave", "close", "crescent", "drive", "court", "place", "square", "way",
        "apt", "suite", "unit", "flat", "box", "po", "phone", "mobile", "desk", "fax", "email", "e-mail", "website", "address",
        "name", "personal", "info", "user", "bot", "hello", "hi", "hey", "dear", "thanks", "thank", "regards", "yes", "no", "okay",
        "ok", "please", "sorry", "god", "nhs", "gp", "mri", "ct", "x-ray", "covid", "ltd", "inc", "llc", "plc", "co", "corp",
        "hospital", "clinic", "surgery", "centre", "center", "university", "school", "bank", "united", "kingdom", "states",
        "america", "england", "london", "street", "north", "south", "east", "west", "new", "saint", "santa", "san", "lake",
        "mount", "fort", "port", "will", "can", "shall", "would", "could", "should", "must", "did", "does", "i", "i'm", "i'll", "i've", "i'd", "the", "and", "or", "my", "our", "your",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    private static readonly string[] CuesBefore =
    [
        "my name is", "name is", "name's", "names", "name:", "name?", "this is", "i'm", "i am", "it's", "it is", "called",
        "call me", "named", "speak to", "speak with", "speaking to", "speaking with", "talk to", "spoke to", "spoke with",
        "ask for", "asking for", "calling for", "calling about", "on behalf of", "patient", "user:", "by", "starring",
        "with", "add", "married to", "husband", "wife", "son", "daughter", "mother", "father", "partner", "heard",
        "dear", "hi", "hello", "thanks", "thank you", "from", "regards,", "said", "to",
        "mr", "mr.", "mrs", "mrs.", "ms", "ms.", "miss", "mx", "mx.", "dr", "dr.", "prof", "prof.", "sir", "dame", "nurse",
    ];

    public IEnumerable<string> Types => [PiiTypes.Name];

    public void Recognize(string text, List<DetectedEntity> candidates)
    {
        var found = new List<DetectedEntity>();
        var words = Words.Split(text);
        var i = 0;
        while (i < words.Count)
        {
            if (!IsCapitalised(text, words[i]))
            {
                i++;
                continue;
            }
            var runEnd = i; // inclusive
            while (runEnd + 1 < words.Count && Joins(text, words, runEnd)) runEnd++;
            Score(text, words, i, runEnd, found);
            i = runEnd + 1;
        }

        // Names come in lists: "Monjeau, Graves and Reed". A likely name lifts its neighbours in the list.
        for (var k = 0; k < found.Count; k++)
        {
            var boosted = found[k].Confidence;
            if (k > 0 && IsListed(text, found[k - 1], found[k]) && found[k - 1].Confidence >= 0.45) boosted += 0.15;
            if (k + 1 < found.Count && IsListed(text, found[k], found[k + 1]) && found[k + 1].Confidence >= 0.45) boosted += 0.15;
            if (found[k].Confidence >= 0.4) found[k] = found[k] with { Confidence = Math.Min(0.9, boosted) };
        }
        candidates.AddRange(found);
    }

    private static bool IsListed(string text, DetectedEntity a, DetectedEntity b)
    {
        if (b.StartPos < a.EndPos) return false;
        var gap = text.AsSpan(a.EndPos, b.StartPos - a.EndPos);
        return gap is ", " or " and " or " & " or " or " or ", and ";
    }

    /// <summary>Whether the next word continues the run: same line, one space (or ". " after an initial), capitalised or a particle.</summary>
    private static bool Joins(string text, List<Word> words, int k)
    {
        var a = words[k];
        var b = words[k + 1];
        var gap = text.AsSpan(a.End, b.Start - a.End);
        var ok = gap is " " || (gap is ". " && a.Length == 1);
        if (!ok) return false;
        if (IsCapitalised(text, b)) return true;
        // a lower-case particle joins only when a capitalised word follows it
        return Particles.Contains(text.Substring(b.Start, b.Length)) && k + 2 < words.Count
            && text.AsSpan(b.End, words[k + 2].Start - b.End) is " " && IsCapitalised(text, words[k + 2]);
    }

    private static bool IsCapitalised(string text, Word w)
    {
        if (!char.IsUpper(text[w.Start])) return false;
        if (w.Length == 1) return true; // an initial
        for (var k = w.Start + 1; k < w.End; k++)
        {
            if (char.IsLower(text[k])) return true;
            if (char.IsDigit(text[k])) return false;
        }
        return false; // ALL CAPS reads as an acronym or a town on an envelope
    }

    /// <summary>Words that make a capitalised run a place or an organisation ("Park Lane Surgery").</summary>
    private static readonly FrozenSet<string> PlaceWords = new[]
    {
        "street", "st", "road", "rd", "lane", "avenue", "ave", "close", "crescent", "drive", "court", "place", "square", "way",
        "mews", "terrace", "gardens", "grove", "boulevard", "surgery", "clinic", "hospital", "centre", "center", "practice",
        "pharmacy", "university", "school", "college", "church", "ltd", "inc", "llc", "plc", "group", "trust", "council",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    private static void Score(string text, List<Word> words, int first, int last, List<DetectedEntity> candidates)
    {
        for (var k = first; k <= last; k++)
        {
            if (PlaceWords.Contains(Value(text, words[k]))) return;
        }
        var title = false;
        // Leading titles and everyday words ("Please", "The") are not part of the name.
        while (first <= last)
        {
            var w = Value(text, words[first]);
            if (Titles.Contains(w)) title = true;
            else if (title || (!IsEveryday(w) && !Stop.Contains(w))) break; // after a title any capitalised word is a name
            else title = false;
            first++;
        }
        // A trailing everyday word is dropped unless a given name or initial vouches for it ("John Hughes", "Mary Park").
        while (last >= first)
        {
            var w = Value(text, words[last]);
            var vouched = (last == first && title)
                || (last > first && (words[last - 1].Length == 1 || Lexicons.FirstNames.Contains(Value(text, words[last - 1]))));
            if (!(Stop.Contains(w) || words[last].Length == 1 || (IsEveryday(w) && !vouched))) break;
            last--;
        }
        if (first > last) return;
        if (last - first + 1 > MaxTokens) return;

        var start = words[first].Start;
        var end = words[last].End;
        if (end - start >= 2 && text[end - 1] is 's' or 'S' && text[end - 2] is '\'' or '’') end -= 2; // possessive

        var tokens = 0;
        var known = 0;
        var firstIsGiven = false;
        var lastIsSurname = false;
        for (var k = first; k <= last; k++)
        {
            var w = words[k];
            if (w.Length == 1 || Particles.Contains(Value(text, w))) continue;
            var value = text.AsSpan(w.Start, Math.Min(w.End, end) - w.Start);
            if (Stop.Contains(value.ToString()) || Lexicons.Conditions.Contains(value) || Lexicons.Medications.Contains(value)) return;
            tokens++;
            var given = Lexicons.FirstNames.Contains(value);
            var surname = Lexicons.Surnames.Contains(value);
            if (given || surname) known++;
            if (k == first) firstIsGiven = given;
            if (k == last) lastIsSurname = surname || given;
        }
        if (tokens == 0) return;

        var cue = title || HasCueBefore(text, start) || HasCueAfter(text, start, end);
        var ownLine = IsOwnLine(text, start, end);
        var sentenceStart = IsSentenceStart(text, start);
        double score;
        if (tokens >= 2)
        {
            score = firstIsGiven && lastIsSurname ? 0.85
                : firstIsGiven || lastIsSurname ? 0.75
                : known > 0 ? 0.6
                : 0.5;
            if (cue || ownLine) score += 0.15;
        }
        else
        {
            var everyday = IsEveryday(text.Substring(start, end - start));
            score = everyday ? 0.3
                : firstIsGiven ? (sentenceStart ? 0.55 : 0.6)
                : known > 0 ? (sentenceStart ? 0.45 : 0.55)
                : 0.3;
            if (cue) score = everyday ? 0.55 : 0.85;
        }
        candidates.Add(text, PiiTypes.Name, start, end, score);
    }

    private static string Value(string text, Word w) => text.Substring(w.Start, w.Length);

    /// <summary>An everyday English word that is not also a given name ("Will", "Grace" stay possible names).</summary>
    private static bool IsEveryday(string word) =>
        Lexicons.CommonWords.Contains(word) && !Lexicons.FirstNames.Contains(word);

    private static bool HasCueBefore(string text, int start)
    {
        var from = Math.Max(0, start - 24);
        var before = text.AsSpan(from, start - from).TrimEnd();
        var newline = before.LastIndexOf('\n');
        if (newline >= 0) before = before[(newline + 1)..];
        foreach (var cue in CuesBefore)
        {
            if (before.EndsWith(cue, StringComparison.OrdinalIgnoreCase)
                && (before.Length == cue.Length || !char.IsLetter(before[before.Length - cue.Length - 1])))
                return true;
        }
        return false;
    }

    private static bool HasCueAfter(string text, int start, int end)
    {
        // A speaker label in a transcript: "Matthew: Remember me?"
        if (end < text.Length && text[end] == ':' && IsLineStart(text, start)) return true;
        var after = text.AsSpan(end, Math.Min(16, text.Length - end)).TrimStart(" ,");
        return after.StartsWith("speaking", StringComparison.OrdinalIgnoreCase) || after.StartsWith("here", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsLineStart(string text, int index)
    {
        var s = index;
        while (s > 0 && text[s - 1] is ' ' or '\t' or '>') s--;
        return s == 0 || text[s - 1] == '\n';
    }

    private static bool IsOwnLine(string text, int start, int end)
    {
        var s = start;
        while (s > 0 && text[s - 1] is ' ' or '\t' or '>' or '?' or '*' or '-') s--;
        var e = end;
        while (e < text.Length && text[e] is ' ' or '\t' or ',') e++;
        return (s == 0 || text[s - 1] == '\n') && (e == text.Length || text[e] is '\n' or '\r');
    }

    private static bool IsSentenceStart(string text, int start)
    {
        var s = start;
        while (s > 0 && text[s - 1] is ' ' or '"' or '\'' or '(') s--;
        return s == 0 || text[s - 1] is '.' or '!' or '?' or '\n' or ':';
    }
}
