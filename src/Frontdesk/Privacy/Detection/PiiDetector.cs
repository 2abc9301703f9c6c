namespace Frontdesk.Privacy.Detection;

/// <summary>
/// Finds personal and health data in an utterance. Pure code and immutable after construction: one instance serves
/// concurrent requests. Recognizers propose scored candidates; overlaps resolve to the longer span, then the higher score.
/// </summary>
public sealed class PiiDetector
{
    private readonly IRecognizer[] _recognizers;
    private readonly double _threshold;

    public PiiDetector(PiiDetectorOptions? options = null)
    {
        options ??= new PiiDetectorOptions();
        _threshold = options.Threshold;
        IRecognizer[] all =
        [
            new EmailRecognizer(),
            new PhoneRecognizer([.. options.PhoneRegions]),
            new SsnRecognizer(),
            new CreditCardRecognizer(),
            new NhsNumberRecognizer(),
            new NiNumberRecognizer(),
            new DateOfBirthRecognizer(),
            new AddressRecognizer(),
            new NameRecognizer(),
            new HealthRecognizer(),
        ];
        var types = options.Types;
        _recognizers = types is null ? all : [.. all.Where(r => r.Types.Any(types.Contains))];
        _types = types;
    }

    private readonly IReadOnlySet<string>? _types;

    public IReadOnlyList<DetectedEntity> Detect(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) return [];
        var candidates = new List<DetectedEntity>();
        foreach (var recognizer in _recognizers) recognizer.Recognize(text, candidates);
        return Resolve(candidates, _threshold, _types);
    }

    /// <summary>Drops candidates under the threshold, then keeps the longest, then highest-scoring, of overlapping ones.</summary>
    internal static IReadOnlyList<DetectedEntity> Resolve(List<DetectedEntity> candidates, double threshold, IReadOnlySet<string>? types = null)
    {
        candidates.RemoveAll(c => c.Confidence < threshold || (types is not null && !types.Contains(c.Type)));
        if (candidates.Count == 0) return [];
        candidates.Sort(static (a, b) =>
            a.Length != b.Length ? b.Length.CompareTo(a.Length)
            : a.Confidence != b.Confidence ? b.Confidence.CompareTo(a.Confidence)
            : a.StartPos.CompareTo(b.StartPos));
        var kept = new List<DetectedEntity>(candidates.Count);
        foreach (var c in candidates)
        {
            var overlaps = false;
            foreach (var k in kept)
            {
                if (c.StartPos < k.EndPos && k.StartPos < c.EndPos)
                {
                    overlaps = true;
                    break;
                }
            }
            if (!overlaps) kept.Add(c);
        }
        kept.Sort(static (a, b) => a.StartPos.CompareTo(b.StartPos));
        return kept;
    }
}
