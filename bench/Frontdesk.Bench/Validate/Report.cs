using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Frontdesk.Bench.Validate;

/// <summary>One acceptance line of the seed's checklists, with what was measured.</summary>
/// <summary>One acceptance line; Timing marks the seed's speed targets (measured, machine-dependent).</summary>
public sealed record CheckLine(string Text, bool Pass, string Measured, bool Timing = false);

public sealed class Section(string key, string title)
{
    public string Key { get; } = key;
    public string Title { get; } = title;
    /// <summary>The seed's "success metric" block (e.g. "Request 1: ✅ 200 OK (winner)").</summary>
    public List<string> Block { get; } = [];
    public List<CheckLine> Checks { get; } = [];
    public Dictionary<string, double> Metrics { get; } = new(StringComparer.Ordinal);

    [JsonIgnore] public bool Pass => Checks.Count > 0 && Checks.All(c => c.Pass);

    public CheckLine Check(string text, bool pass, string measured, bool timing = false)
    {
        var line = new CheckLine(text, pass, measured, timing);
        Checks.Add(line);
        return line;
    }
}

public sealed class ValidationReport
{
    public required string Target { get; init; }
    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;
    public List<Section> Sections { get; } = [];
    /// <summary>Latency samples in milliseconds by series (e.g. "claim", "ttfb"), for the histogram.</summary>
    [JsonIgnore] public Dictionary<string, List<double>> Samples { get; } = new(StringComparer.Ordinal);

    public bool Pass => Sections.Count > 0 && Sections.All(s => s.Pass);

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Phase 3 system test — Frontdesk validation report").AppendLine();
        sb.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"Target: `{Target}` · started {StartedAt:u} · result: **{(Pass ? "PASS" : "FAIL")}**").AppendLine();
        foreach (var s in Sections)
        {
            sb.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"## {s.Title} {(s.Pass ? "✅" : "❌")}").AppendLine();
            if (s.Block.Count > 0)
            {
                sb.AppendLine("```");
                foreach (var l in s.Block) sb.AppendLine(l);
                sb.AppendLine("```").AppendLine();
            }
            foreach (var c in s.Checks)
                sb.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"- [{(c.Pass ? "x" : " ")}] {(c.Pass ? "✅" : "❌")} {c.Text} — {c.Measured}");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    public string ToJson() => JsonSerializer.Serialize(new
    {
        target = Target,
        startedAt = StartedAt,
        pass = Pass,
        sections = Sections.Select(s => new
        {
            key = s.Key,
            title = s.Title,
            pass = s.Pass,
            block = s.Block,
            checks = s.Checks.Select(c => new { text = c.Text, pass = c.Pass, measured = c.Measured, timing = c.Timing }),
            metrics = s.Metrics.ToDictionary(kv => kv.Key, kv => double.IsFinite(kv.Value) ? Math.Round(kv.Value, 2) : (double?)null),
        }),
    }, JsonOptions);

    static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>latency.png: a histogram per latency series (TTFB, claim, …).</summary>
    public void WritePlot(string path)
    {
        var series = Samples.Where(kv => kv.Value.Count > 0).ToList();
        if (series.Count == 0) return;
        // One histogram per series, stacked vertically in one PNG (their scales differ by 100×).
        const int width = 900, height = 360;
        using var surface = SkiaSharp.SKSurface.Create(new SkiaSharp.SKImageInfo(width, height * series.Count));
        surface.Canvas.Clear(SkiaSharp.SKColors.White);
        for (var i = 0; i < series.Count; i++)
        {
            var (name, values) = (series[i].Key, series[i].Value);
            var plot = new ScottPlot.Plot();
            var max = Math.Max(1, values.Max());
            var hist = ScottPlot.Statistics.Histogram.WithBinCount(40, 0, max * 1.05);
            hist.AddRange(values);
            plot.Add.Histogram(hist);
            plot.Title($"{name} latency (n={values.Count}, p50 {Stats.Percentile(values, 50):F1} ms, p95 {Stats.Percentile(values, 95):F1} ms)");
            plot.XLabel("milliseconds");
            plot.YLabel("count");
            using var bitmap = SkiaSharp.SKBitmap.Decode(plot.GetImageBytes(width, height, ScottPlot.ImageFormat.Png));
            surface.Canvas.DrawBitmap(bitmap, 0, height * i);
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }
}

public static class Stats
{
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    public static string Summary(IReadOnlyList<double> values) =>
        values.Count == 0 ? "no samples" : $"p50 {Percentile(values, 50):F1} ms, p95 {Percentile(values, 95):F1} ms, p99 {Percentile(values, 99):F1} ms (n={values.Count})";
}
