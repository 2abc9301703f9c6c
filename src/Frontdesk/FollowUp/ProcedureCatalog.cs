using System.Text;

namespace Frontdesk.FollowUp;

public sealed record Procedure(string Name, IReadOnlyList<string> Synonyms, string? GuidePath);

/// <summary>
/// A clinic's procedures and the words callers use for them. Matching is leftmost-longest over
/// names and synonyms at word boundaries, so "liquid rhinoplasty" is Liquid Rhinoplasty, never
/// Rhinoplasty; the procedure mentioned most wins, ties going to the first mentioned.
/// </summary>
public sealed class ProcedureCatalog
{
    /// <summary>The seed's catalog; the migration gives every clinic the same rows.</summary>
    public static readonly IReadOnlyList<Procedure> Defaults =
    [
        new("Rhinoplasty", ["nose job", "nose reshaping", "nose surgery", "rhino"], "/guides/rhinoplasty-guide.pdf"),
        new("Liquid Rhinoplasty", ["liquid rhino", "non-surgical rhinoplasty", "non surgical rhinoplasty", "non-surgical nose job", "non surgical nose job", "liquid nose job"], "/guides/liquid-rhino-guide.pdf"),
        new("Facelift", ["face lift", "face-lift", "facial rejuvenation surgery"], "/guides/facelift-guide.pdf"),
        new("Breast Augmentation", ["breast aug", "breast enlargement", "boob job", "breast implants", "augmentation"], "/guides/breast-aug-guide.pdf"),
    ];

    readonly List<(string Term, Procedure Procedure)> _terms;

    public ProcedureCatalog(IReadOnlyList<Procedure> procedures)
    {
        Procedures = procedures.Count > 0 ? procedures : Defaults;
        _terms = Procedures
            .SelectMany(p => p.Synonyms.Prepend(p.Name).Select(t => (Term: Normalize(t), Procedure: p)))
            .Where(t => t.Term.Length > 0)
            .OrderByDescending(t => t.Term.Length)
            .ToList();
    }

    public IReadOnlyList<Procedure> Procedures { get; }

    /// <summary>A keyword as given by the caller's system: an exact name or synonym, else found in it.</summary>
    public Procedure? ForKeyword(string? keyword)
    {
        if (string.IsNullOrWhiteSpace(keyword)) return null;
        var k = Normalize(keyword);
        return _terms.FirstOrDefault(t => t.Term == k).Procedure ?? Find(keyword);
    }

    /// <summary>The procedure a free text talks about, or null.</summary>
    public Procedure? Find(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var s = Normalize(text);
        var counts = new Dictionary<Procedure, (int Count, int First)>();
        var i = 0;
        while (i < s.Length)
        {
            if (i > 0 && char.IsLetterOrDigit(s[i - 1])) { i++; continue; }
            var hit = _terms.FirstOrDefault(t => string.CompareOrdinal(s, i, t.Term, 0, t.Term.Length) == 0
                                                 && (i + t.Term.Length == s.Length || !char.IsLetterOrDigit(s[i + t.Term.Length])));
            if (hit.Procedure is null) { i++; continue; }
            counts[hit.Procedure] = counts.TryGetValue(hit.Procedure, out var c) ? (c.Count + 1, c.First) : (1, i);
            i += hit.Term.Length;
        }
        return counts.Count == 0 ? null : counts.OrderByDescending(kv => kv.Value.Count).ThenBy(kv => kv.Value.First).First().Key;
    }

    /// <summary>Lower case, hyphens as spaces, runs of whitespace as one space.</summary>
    static string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        var space = false;
        foreach (var ch in text)
        {
            var c = ch is '-' or '‐' or '–' ? ' ' : char.ToLowerInvariant(ch);
            if (char.IsWhiteSpace(c))
            {
                if (!space && sb.Length > 0) sb.Append(' ');
                space = true;
            }
            else
            {
                sb.Append(c);
                space = false;
            }
        }
        return sb.ToString().TrimEnd();
    }
}
