using Frontdesk.Privacy.Detection;

namespace Frontdesk.Tests.Privacy;

/// <summary>
/// Regression floors, set a little below what the detector scores today (see pii-eval), so a change that loses
/// accuracy fails here rather than in production.
/// </summary>
public class BenchmarkFloorTests
{
    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Frontdesk.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException($"No Frontdesk.slnx above {AppContext.BaseDirectory}.");
    }

    private static IReadOnlyList<LabelledSample> Load(string path)
    {
        Assert.True(File.Exists(path), $"Missing {path}: the shared data folder sits beside the repository (e.g. /work/shared next to /work/main).");
        return LabelledSample.ReadJsonl(path);
    }

    private static PiiScorer Score(IReadOnlyList<LabelledSample> samples)
    {
        var scored = PiiTypes.All.Where(t => samples.Any(s => s.Entities.Any(e => e.Type == t))).ToHashSet();
        var scorer = new PiiScorer(scored);
        var detector = new PiiDetector();
        foreach (var s in samples)
            scorer.Add(s.Spans, [.. detector.Detect(s.Text).Select(e => new EntitySpan(e.Type, e.StartPos, e.EndPos))]);
        return scorer;
    }

    [Fact]
    public void Presidio_synthetic_benchmark_stays_above_its_floors()
    {
        var scorer = Score(Load(Path.Combine(RepoRoot(), "..", "shared", "data", "pii", "presidio-synth-v2.jsonl")));
        var t = scorer.Types.ToDictionary(x => x.Type);
        Assert.True(scorer.Headline.F2 >= 0.85, $"PII F2 {scorer.Headline.F2:0.000}");
        Assert.True(t[PiiTypes.Email].F2 >= 0.99, $"email F2 {t[PiiTypes.Email].F2:0.000}");
        Assert.True(t[PiiTypes.Ssn].F2 >= 0.99, $"ssn F2 {t[PiiTypes.Ssn].F2:0.000}");
        Assert.True(t[PiiTypes.CreditCard].Recall >= 0.98, $"credit card recall {t[PiiTypes.CreditCard].Recall:0.000}");
        Assert.True(t[PiiTypes.Phone].F2 >= 0.9, $"phone F2 {t[PiiTypes.Phone].F2:0.000}");
        Assert.True(t[PiiTypes.Name].F2 >= 0.8, $"name F2 {t[PiiTypes.Name].F2:0.000}");
        Assert.True(t[PiiTypes.Address].Recall >= 0.72, $"address recall {t[PiiTypes.Address].Recall:0.000}");
    }

    [Fact]
    public void Clinic_utterance_set_stays_above_its_floors()
    {
        var scorer = Score(Load(Path.Combine(RepoRoot(), "bench", "data", "clinic-utterances.jsonl")));
        Assert.True(scorer.Headline.F2 >= 0.95, $"PII F2 {scorer.Headline.F2:0.000}");
        foreach (var t in scorer.Types) Assert.True(t.F2 >= 0.85, $"{t.Type} F2 {t.F2:0.000}");
    }

    [Fact]
    public void Clinic_utterance_labels_are_exact_offsets()
    {
        foreach (var s in Load(Path.Combine(RepoRoot(), "bench", "data", "clinic-utterances.jsonl")))
        {
            foreach (var e in s.Entities) Assert.Equal(e.Value, s.Text[e.Start..e.End]);
        }
    }
}
