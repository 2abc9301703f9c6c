using System.Buffers;
using System.Text.RegularExpressions;

namespace Frontdesk.Privacy.Detection;

/// <summary>
/// Medical history, allergies and medications. Lexicon phrases are found anywhere; strong cues ("history of",
/// "diagnosed with", "allergic to") also take the short phrase after them when no lexicon entry does. The cue itself
/// is never part of the value.
/// </summary>
internal sealed partial class HealthRecognizer : IRecognizer
{
    private const int MaxPhraseWords = 5;

    private static readonly SearchValues<string> AllergyCues = Context.Words(
        "allergic to", "allergy to", "allergies to", "allergic reaction to", "reaction to", "intolerant to", "intolerance to",
        "allergies:", "allergies are", "allergy is", "allergic to both", "anaphylaxis");

    private static readonly SearchValues<string> ClauseBreaks = Context.Words(" and i ", " but ", " and i'm ", " and he ", " and she ", " also ");

    private static readonly SearchValues<string> MedicalCues = Context.Words(
        "history of", "diagnosed with", "diagnosis of", "suffer from", "suffering from", "suffers from", "suffered from",
        "i have", "i've got", "i have got", "i had", "he has", "she has", "living with", "treated for", "treatment for",
        "condition", "problems with", "struggle with", "struggling with", "bout of", "recovering from");

    private static readonly SearchValues<string> MedicationCues = Context.Words(
        "take", "taking", "takes", "took", "prescribed", "prescription", " on ", "mg", "tablet", "dose", "medication",
        "medicine", "inhaler", "pills", "injection", "started on", "repeat");

    public IEnumerable<string> Types => [PiiTypes.Medical, PiiTypes.Allergy, PiiTypes.Medication];

    public void Recognize(string text, List<DetectedEntity> candidates)
    {
        var words = Words.Split(text);
        var covered = -1;
        for (var i = 0; i < words.Count; i++)
        {
            if (words[i].Start < covered) continue;
            if (LongestEntry(text, words, i) is not ({ } lexicon, var last)) continue;
            var start = words[i].Start;
            var end = words[last].End;
            if (Classify(text, lexicon, start, end) is ({ } type, var score))
            {
                candidates.Add(text, type, start, end, score);
                covered = end;
            }
        }

        foreach (Match m in StrongCue().Matches(text))
        {
            var phrase = m.Groups["phrase"];
            if (phrase.Length == 0 || Covered(candidates, phrase.Index)) continue;
            var type = m.Groups["allergy"].Success ? PiiTypes.Allergy : PiiTypes.Medical;
            var (start, end) = TrimPhrase(text, phrase.Index, phrase.Index + phrase.Length);
            if (end > start) candidates.Add(text, type, start, end, 0.75);
        }

        foreach (Match m in Dose().Matches(text))
        {
            var drug = m.Groups["drug"];
            if (Covered(candidates, drug.Index) || Lexicons.CommonWords.Contains(drug.ValueSpan)) continue;
            candidates.Add(text, PiiTypes.Medication, drug.Index, drug.Index + drug.Length, 0.7);
        }
    }

    private static (Lexicon? Lexicon, int Last) LongestEntry(string text, List<Word> words, int i)
    {
        var first = text.AsSpan(words[i].Start, words[i].Length);
        var phrase = Lexicons.Medications.StartsPhrase(first) || Lexicons.Conditions.StartsPhrase(first) || Lexicons.Allergens.StartsPhrase(first);
        for (var last = phrase ? Math.Min(words.Count - 1, i + MaxPhraseWords - 1) : i; last >= i; last--)
        {
            if (!Words.SingleSpaced(text, words, i, last)) continue;
            var span = text.AsSpan(words[i].Start, words[last].End - words[i].Start);
            if (Lexicons.Medications.Contains(span)) return (Lexicons.Medications, last);
            if (Lexicons.Conditions.Contains(span)) return (Lexicons.Conditions, last);
            if (Lexicons.Allergens.Contains(span)) return (Lexicons.Allergens, last);
        }
        return (null, -1);
    }

    private static (string? Type, double Score) Classify(string text, Lexicon lexicon, int start, int end)
    {
        if (IsAllergyContext(text, start, end)) return (PiiTypes.Allergy, 0.9);
        var entry = text.AsSpan(start, end - start);
        if (lexicon == Lexicons.Medications)
        {
            var cue = Context.Before(text, start, 40, MedicationCues) || Context.After(text, end, 12, MedicationCues);
            return (PiiTypes.Medication, cue ? 0.9 : 0.65);
        }
        if (lexicon == Lexicons.Conditions)
        {
            var cue = Context.Before(text, start, 40, MedicalCues);
            if (!cue && lexicon.NeedsCue(entry)) return (null, 0);
            return (PiiTypes.Medical, cue ? 0.85 : 0.65);
        }
        return (null, 0); // an allergen word outside an allergy context is just food or a pet
    }

    private static bool IsAllergyContext(string text, int start, int end)
    {
        // The cue must be in the same sentence: back to the last full stop, question mark or line break.
        var from = start;
        while (from > 0 && start - from < 60 && text[from - 1] is not ('.' or '?' or '!' or '\n' or ';')) from--;
        var before = text.AsSpan(from, start - from);
        // A new clause ("... and I take", "but") ends the allergy list.
        for (var clause = before.IndexOfAny(ClauseBreaks); clause >= 0; clause = before.IndexOfAny(ClauseBreaks))
            before = before[(clause + 1)..];
        if (before.IndexOfAny(AllergyCues) >= 0) return true;
        var after = text.AsSpan(end, Math.Min(12, text.Length - end));
        return after.StartsWith(" allerg", StringComparison.OrdinalIgnoreCase);
    }

    private static bool Covered(List<DetectedEntity> candidates, int index)
    {
        foreach (var c in candidates)
        {
            if (c.StartPos <= index && index < c.EndPos) return true;
        }
        return false;
    }

    /// <summary>Drops leading determiners so "a history of the heart issues" gives "heart issues".</summary>
    private static (int Start, int End) TrimPhrase(string text, int start, int end)
    {
        while (end > start && char.IsWhiteSpace(text[end - 1])) end--;
        while (true)
        {
            var rest = text.AsSpan(start, end - start);
            var space = rest.IndexOf(' ');
            if (space < 0) break;
            var first = rest[..space];
            if (first is not ("a" or "an" or "the" or "some" or "my" or "his" or "her" or "their" or "mild" or "quite" or "really" or "bad")) break;
            start += space + 1;
        }
        return (start, end);
    }

    // A phrase after a strong cue: up to five words, ending at punctuation or a clause word.
    [GeneratedRegex(
        @"\b(?:(?<allergy>allergic to|allergy to|allergies to|intolerant to)|history of|diagnosed with|suffer(?:s|ed|ing)? from|treated for)\s+" +
        @"(?<phrase>(?:(?!(?:and|but|so|which|since|because|when|for|too|as|that|who|or|with|i|it)\b)[\p{L}][\p{L}'’\-]*(?:\s+|(?=[.,;:!?)]|$))){1,5})",
        RegexOptions.IgnoreCase)]
    private static partial Regex StrongCue();

    [GeneratedRegex(@"\b\d+(?:\.\d+)?\s?(?:mg|mcg|micrograms?|milligrams?|ml|units)\s+(?:of\s+)?(?<drug>\p{L}[\p{L}\-]{3,})", RegexOptions.IgnoreCase)]
    private static partial Regex Dose();
}
