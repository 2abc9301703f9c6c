namespace Frontdesk.Privacy.Detection;

/// <summary>A labelled or predicted span; End is exclusive.</summary>
public readonly record struct EntitySpan(string Type, int Start, int End)
{
    public int Length => End - Start;

    public double OverlapOverUnion(EntitySpan other)
    {
        var overlap = Math.Min(End, other.End) - Math.Max(Start, other.Start);
        if (overlap <= 0) return 0;
        var union = Math.Max(End, other.End) - Math.Min(Start, other.Start);
        return (double)overlap / union;
    }

    public bool Overlaps(EntitySpan other) => Start < other.End && other.Start < End;
}

public sealed record TypeScore(string Type, int TruePositives, int FalsePositives, int FalseNegatives)
{
    public double Precision => TruePositives + FalsePositives == 0 ? 0 : (double)TruePositives / (TruePositives + FalsePositives);
    public double Recall => TruePositives + FalseNegatives == 0 ? 0 : (double)TruePositives / (TruePositives + FalseNegatives);
    public double F2 => Precision + Recall == 0 ? 0 : 5 * Precision * Recall / (4 * Precision + Recall);
}

/// <summary>
/// Scores predictions against gold spans as the benchmark's README defines: a prediction matches a gold span of the
/// same type when overlap / union ≥ 0.5 (one-to-one, best overlap first); β = 2; a prediction that matches nothing
/// but overlaps a gold span of an unscored type is ignored rather than counted as a false positive. The headline
/// "PII F2" is type-agnostic over the types a clinic routes.
/// </summary>
public sealed class PiiScorer(IReadOnlySet<string> scoredTypes)
{
    public const double MinOverlap = 0.5;

    public static IReadOnlySet<string> HeadlineTypes { get; } = new HashSet<string>
    {
        PiiTypes.Name, PiiTypes.Address, PiiTypes.Email, PiiTypes.Phone, PiiTypes.Ssn, PiiTypes.CreditCard,
    };

    private readonly Dictionary<string, int[]> _counts = new(StringComparer.Ordinal);
    private readonly int[] _headline = new int[3];

    public IReadOnlySet<string> ScoredTypes => scoredTypes;

    public void Add(IReadOnlyList<EntitySpan> gold, IReadOnlyList<EntitySpan> predicted)
    {
        var ignorable = gold.Where(g => !scoredTypes.Contains(g.Type)).ToList();
        foreach (var type in scoredTypes)
        {
            var counts = Count(gold.Where(g => g.Type == type).ToList(), predicted.Where(p => p.Type == type).ToList(), ignorable);
            var total = _counts.TryGetValue(type, out var c) ? c : _counts[type] = new int[3];
            for (var k = 0; k < 3; k++) total[k] += counts[k];
        }

        // Headline: type-agnostic over the routed types; gold of any other type is ignorable.
        var headlineGold = gold.Where(g => HeadlineTypes.Contains(g.Type)).Select(g => g with { Type = "" }).ToList();
        var headlinePredicted = predicted.Where(p => HeadlineTypes.Contains(p.Type)).Select(p => p with { Type = "" }).ToList();
        var headlineIgnorable = gold.Where(g => !HeadlineTypes.Contains(g.Type)).ToList();
        var h = Count(headlineGold, headlinePredicted, headlineIgnorable);
        for (var k = 0; k < 3; k++) _headline[k] += h[k];
    }

    public TypeScore Headline => new("pii", _headline[0], _headline[1], _headline[2]);

    public IReadOnlyList<TypeScore> Types =>
        [.. _counts.Where(kv => kv.Value.Any(v => v > 0)).OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => new TypeScore(kv.Key, kv.Value[0], kv.Value[1], kv.Value[2]))];

    /// <summary>Returns [tp, fp, fn] for spans already filtered to one type (or made type-agnostic).</summary>
    private static int[] Count(List<EntitySpan> gold, List<EntitySpan> predicted, List<EntitySpan> ignorable)
    {
        var pairs = new List<(double Iou, int G, int P)>();
        for (var g = 0; g < gold.Count; g++)
        {
            for (var p = 0; p < predicted.Count; p++)
            {
                var iou = gold[g].OverlapOverUnion(predicted[p]);
                if (iou >= MinOverlap) pairs.Add((iou, g, p));
            }
        }
        pairs.Sort((a, b) => b.Iou.CompareTo(a.Iou));
        var goldUsed = new bool[gold.Count];
        var predictedUsed = new bool[predicted.Count];
        var tp = 0;
        foreach (var (_, g, p) in pairs)
        {
            if (goldUsed[g] || predictedUsed[p]) continue;
            goldUsed[g] = predictedUsed[p] = true;
            tp++;
        }
        var fp = 0;
        for (var p = 0; p < predicted.Count; p++)
        {
            if (!predictedUsed[p] && !ignorable.Any(i => i.Overlaps(predicted[p]))) fp++;
        }
        return [tp, fp, gold.Count - tp];
    }
}
