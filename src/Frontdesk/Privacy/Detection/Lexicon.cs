using System.Collections.Frozen;
using System.Reflection;

namespace Frontdesk.Privacy.Detection;

/// <summary>
/// A case-insensitive word or phrase list embedded from <c>Lexicons/*.txt</c>, looked up by span so matching
/// allocates nothing. Lines starting with '#' are comments; a trailing " *" marks an entry as needing a cue.
/// </summary>
internal sealed class Lexicon
{
    private readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> _all;
    private readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> _cueOnly;

    private readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> _phraseStarts;

    private Lexicon(IReadOnlyCollection<string> entries, IEnumerable<string> cueOnly)
    {
        _all = entries.ToFrozenSet(StringComparer.OrdinalIgnoreCase).GetAlternateLookup<ReadOnlySpan<char>>();
        _phraseStarts = entries.Where(e => e.Contains(' ', StringComparison.Ordinal)).Select(e => e[..e.IndexOf(' ', StringComparison.Ordinal)])
            .ToFrozenSet(StringComparer.OrdinalIgnoreCase).GetAlternateLookup<ReadOnlySpan<char>>();
        _cueOnly = cueOnly.ToFrozenSet(StringComparer.OrdinalIgnoreCase).GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _all.Set.Count;

    public bool Contains(ReadOnlySpan<char> entry) => _all.Contains(entry);

    /// <summary>True when some multi-word entry starts with this word: only then are longer phrases worth trying.</summary>
    public bool StartsPhrase(ReadOnlySpan<char> word) => _phraseStarts.Contains(word);

    /// <summary>True when the entry is also an everyday word and counts only after a cue.</summary>
    public bool NeedsCue(ReadOnlySpan<char> entry) => _cueOnly.Contains(entry);

    public static Lexicon FromWords(params string[] words) => new(words, []);

    public static Lexicon Load(string name)
    {
        var entries = new List<string>();
        var cueOnly = new List<string>();
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"lexicons/{name}")
            ?? throw new InvalidOperationException($"Embedded lexicon '{name}' is missing.");
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            var entry = line.Trim();
            if (entry.Length == 0 || entry[0] == '#') continue;
            if (entry.EndsWith(" *", StringComparison.Ordinal))
            {
                entry = entry[..^2].TrimEnd();
                cueOnly.Add(entry);
            }
            entries.Add(entry);
        }
        return new Lexicon(entries, cueOnly);
    }
}

/// <summary>The embedded lists, loaded once per process.</summary>
internal static class Lexicons
{
    private static readonly Lazy<Lexicon> FirstNamesLazy = new(() => Lexicon.Load("first-names.txt"));
    private static readonly Lazy<Lexicon> SurnamesLazy = new(() => Lexicon.Load("surnames.txt"));
    private static readonly Lazy<Lexicon> CommonWordsLazy = new(() => Lexicon.Load("common-words.txt"));
    private static readonly Lazy<Lexicon> ConditionsLazy = new(() => Lexicon.Load("conditions.txt"));
    private static readonly Lazy<Lexicon> MedicationsLazy = new(() => Lexicon.Load("medications.txt"));
    private static readonly Lazy<Lexicon> AllergensLazy = new(() => Lexicon.Load("allergens.txt"));

    public static Lexicon FirstNames => FirstNamesLazy.Value;
    public static Lexicon Surnames => SurnamesLazy.Value;
    public static Lexicon CommonWords => CommonWordsLazy.Value;
    public static Lexicon Conditions => ConditionsLazy.Value;
    public static Lexicon Medications => MedicationsLazy.Value;
    public static Lexicon Allergens => AllergensLazy.Value;
}
