using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Frontdesk.Privacy.Detection;

namespace Frontdesk.Bench;

/// <summary>Runs the detector over a labelled JSONL file and prints precision, recall and F2 per type and the headline.</summary>
public sealed class PiiEval : IBenchCommand
{
    public string Name => "pii-eval";
    public string Summary => "FILE [--json] [--predictions OUT.jsonl] [--types a,b] [--threshold X]: PII detector accuracy";

    public async Task<int> RunAsync(string[] args)
    {
        string? file = null, predictionsPath = null, types = null;
        var json = false;
        var threshold = new PiiDetectorOptions().Threshold;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--json": json = true; break;
                case "--predictions" when i + 1 < args.Length: predictionsPath = args[++i]; break;
                case "--types" when i + 1 < args.Length: types = args[++i]; break;
                case "--threshold" when i + 1 < args.Length: threshold = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: file = args[i]; break;
            }
        }
        if (file is null || !File.Exists(file))
        {
            await Console.Error.WriteLineAsync($"usage: pii-eval FILE [--json] [--predictions OUT.jsonl]{(file is null ? "" : $" (no file '{file}')")}");
            return 2;
        }

        var samples = LabelledSample.ReadJsonl(file);
        // Scored types: given, or every detector type that the gold labels use (other labels are ignorable).
        IReadOnlySet<string> scored = types is not null
            ? types.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet()
            : PiiTypes.All.Where(t => samples.Any(s => s.Entities.Any(e => e.Type == t))).ToHashSet();
        var detector = new PiiDetector(new PiiDetectorOptions { Threshold = threshold });
        var (scorer, predictions, elapsed) = Evaluate(detector, samples, scored);

        if (predictionsPath is not null)
        {
            await using var writer = new StreamWriter(predictionsPath);
            foreach (var (id, entities) in predictions)
            {
                await writer.WriteLineAsync(JsonSerializer.Serialize(new
                {
                    id,
                    entities = entities.Select(e => new { type = e.Type, start = e.StartPos, end = e.EndPos }),
                }));
            }
        }

        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                piiF2 = Math.Round(scorer.Headline.F2, 4),
                precision = Math.Round(scorer.Headline.Precision, 4),
                recall = Math.Round(scorer.Headline.Recall, 4),
                types = scorer.Types.ToDictionary(t => t.Type, t => new
                {
                    precision = Math.Round(t.Precision, 4),
                    recall = Math.Round(t.Recall, 4),
                    f2 = Math.Round(t.F2, 4),
                    tp = t.TruePositives,
                    fp = t.FalsePositives,
                    fn = t.FalseNegatives,
                }),
            }));
            return 0;
        }

        Console.WriteLine($"{Path.GetFileName(file)}: {samples.Count} samples, scored types: {string.Join(", ", scored.Order(StringComparer.Ordinal))}");
        Console.WriteLine($"{"type",-14} {"P",6} {"R",6} {"F2",6} {"tp",5} {"fp",5} {"fn",5}");
        foreach (var t in scorer.Types) Print(t);
        Print(scorer.Headline with { Type = "PII (headline)" });
        Console.WriteLine($"headline over {string.Join(", ", PiiScorer.HeadlineTypes.Order(StringComparer.Ordinal))}; " +
            $"{elapsed.TotalMilliseconds / samples.Count:0.000} ms per sample");
        return 0;
    }

    internal static (PiiScorer Scorer, List<(string Id, IReadOnlyList<DetectedEntity> Entities)> Predictions, TimeSpan Elapsed) Evaluate(
        PiiDetector detector, IReadOnlyList<LabelledSample> samples, IReadOnlySet<string> scored)
    {
        var scorer = new PiiScorer(scored);
        var predictions = new List<(string, IReadOnlyList<DetectedEntity>)>(samples.Count);
        detector.Detect("warm up: call 020 7946 0000"); // lexicon loading is not per-sample cost
        var clock = Stopwatch.StartNew();
        foreach (var sample in samples)
        {
            var found = detector.Detect(sample.Text);
            predictions.Add((sample.Id, found));
        }
        clock.Stop();
        for (var i = 0; i < samples.Count; i++)
        {
            scorer.Add(samples[i].Spans, [.. predictions[i].Item2.Select(e => new EntitySpan(e.Type, e.StartPos, e.EndPos))]);
        }
        return (scorer, predictions, clock.Elapsed);
    }

    private static void Print(TypeScore t) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{t.Type,-14} {t.Precision,6:0.000} {t.Recall,6:0.000} {t.F2,6:0.000} {t.TruePositives,5} {t.FalsePositives,5} {t.FalseNegatives,5}"));
}
