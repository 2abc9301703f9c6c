using System.Globalization;
using System.Text;

namespace Frontdesk.Knowledge;

/// <summary>A caller's question reduced to weighted search words: conversational filler removed,
/// colloquial names expanded to the clinic's vocabulary. Key is the identity used by the prefetch
/// cache: two phrasings with the same words search the same thing.</summary>
public sealed record KnowledgeQuery(IReadOnlyList<string> Words, IReadOnlyList<float> Boosts, string Normalized)
{
    public const int MaxQueryChars = 500;

    /// <summary>Weight of a word the caller said; words added by a synonym weigh less so a literal
    /// match still wins over an expansion.</summary>
    public const float SpokenBoost = 1.0f;
    public const float SynonymBoost = 0.8f;
    public const float ColloquialBoost = 0.4f;

    // Normalized once: a question is matched against every default phrase.
    static readonly (string Phrase, string[] Words)[] NormalizedDefaults =
        [.. KnowledgeSynonyms.Defaults.Select(x => (Normalize(x.Phrase), Normalize(x.Expansion).Split(' ', StringSplitOptions.RemoveEmptyEntries)))];

    public string Key => string.Join(' ', Words.Order(StringComparer.Ordinal));

    public bool IsEmpty => Words.Count == 0;

    public static KnowledgeQuery Parse(string question, IEnumerable<(string Phrase, string Expansion)>? clinicSynonyms = null)
    {
        var normalized = Normalize(question);
        var padded = $" {normalized} ";
        var words = new Dictionary<string, float>(StringComparer.Ordinal);

        void Add(string word, float boost)
        {
            if (word.Length < 2 && !char.IsDigit(word[0])) return;
            if (KnowledgeSynonyms.Fillers.Contains(word)) return;
            words[word] = Math.Max(words.GetValueOrDefault(word), boost);
        }

        var spoken = normalized.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // Phrases match the words as said and with fillers left out ("where exactly are you" → "where are you").
        var content = $" {string.Join(' ', spoken.Where(w => !KnowledgeSynonyms.Fillers.Contains(w)))} ";
        var colloquial = new HashSet<string>(StringComparer.Ordinal);
        var extra = (clinicSynonyms ?? []).Select(x => (Normalize(x.Phrase), Normalize(x.Expansion).Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        foreach (var (p, expansionWords) in NormalizedDefaults.Concat(extra))
        {
            if (p.Length == 0 || !(padded.Contains($" {p} ", StringComparison.Ordinal) || content.Contains($" {p} ", StringComparison.Ordinal))) continue;
            foreach (var w in expansionWords)
                Add(w, SynonymBoost);
            // The words of a colloquial phrase ("job" in "nose job") say less than its expansion.
            if (p.Contains(' ', StringComparison.Ordinal))
                colloquial.UnionWith(p.Split(' '));
        }
        foreach (var w in spoken)
            Add(w, colloquial.Contains(w) && !words.ContainsKey(w) ? ColloquialBoost : SpokenBoost);
        return new KnowledgeQuery([.. words.Keys], [.. words.Values], normalized);
    }

    /// <summary>Lower case, accents off, apostrophes joined ("what's" → "whats"), everything that is
    /// not a letter or digit a space. Hyphenated words split ("anti-wrinkle" → "anti wrinkle").</summary>
    public static string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        var lastSpace = true;
        foreach (var ch in text.Normalize(NormalizationForm.FormD))
        {
            var cat = CharUnicodeInfo.GetUnicodeCategory(ch);
            if (cat == UnicodeCategory.NonSpacingMark || ch is '\'' or '’') continue;
            if (char.IsLetterOrDigit(ch))
            {
                sb.Append(char.ToLowerInvariant(ch));
                lastSpace = false;
            }
            else if (!lastSpace)
            {
                sb.Append(' ');
                lastSpace = true;
            }
        }
        return sb.ToString().Trim();
    }
}
