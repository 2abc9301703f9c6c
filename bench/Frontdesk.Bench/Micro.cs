using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace Frontdesk.Bench;

/// <summary>
/// Micro benchmarks. Full mode runs BenchmarkDotNet over every benchmark class in this assembly (mean, P95 and
/// allocations); --quick times the PII detector in-process with a Stopwatch and prints p50/p95/p99 in seconds.
/// </summary>
public sealed class Micro : IBenchCommand
{
    public string Name => "micro";
    public string Summary => "[--quick] [BenchmarkDotNet args]: BenchmarkDotNet micro benchmarks (run from the repo root); --quick: detector p50/p95/p99";

    public Task<int> RunAsync(string[] args)
    {
        if (args.Contains("--quick")) return Task.FromResult(Quick(runs: 10_000));
        // Results go under bin/ (ignored by git); P50 and P95 join the default mean and error columns.
        var config = DefaultConfig.Instance
            .WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts"))
            .AddColumn(StatisticColumn.P50, StatisticColumn.P95)
            .WithOptions(ConfigOptions.DisableOptimizationsValidator);
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Micro).Assembly).Run(args.Length == 0 ? ["--filter", "*"] : args, config);
        return Task.FromResult(summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0);
    }

    private static int Quick(int runs)
    {
        var bench = new DetectorBenchmarks();
        bench.Warm();
        // Two seconds of warm-up lets tiered compilation finish, so the loop measures steady state, not the JIT.
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed < TimeSpan.FromSeconds(2)) bench.Detect();

        var ticks = new long[runs];
        for (var i = 0; i < runs; i++)
        {
            var start = Stopwatch.GetTimestamp();
            bench.Detect();
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }
        Array.Sort(ticks);
        double Us(double q) => ticks[(int)Math.Min(runs - 1, Math.Ceiling(q * runs) - 1)] * 1_000_000.0 / Stopwatch.Frequency;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"PiiDetector.Detect, {DetectorBenchmarks.Utterance.Length} chars, {runs} runs: " +
            $"p50 {Us(0.50):0.0} µs, p95 {Us(0.95):0.0} µs, p99 {Us(0.99):0.0} µs, max {Us(1.0):0.0} µs"));
        return 0;
    }
}
