using BenchmarkDotNet.Attributes;
using Frontdesk.Privacy.Detection;

namespace Frontdesk.Bench;

/// <summary>The PII detector on one ~300-character caller utterance (the per-turn cost on the voice path).</summary>
[MemoryDiagnoser]
public class DetectorBenchmarks
{
    public const string Utterance =
        "Hi, this is Sarah Thompson, date of birth 14 March 1985. I moved last month, my address is now 27 Harley Street, " +
        "London W1G 9QY and my mobile is 07700 900123. I have a history of high blood pressure, I'm allergic to penicillin " +
        "and I take 20 mg of atorvastatin. Email me at sarah dot thompson at gmail dot com.";

    private readonly PiiDetector _detector = new();

    [GlobalSetup]
    public void Warm() => _detector.Detect(Utterance);

    [Benchmark]
    public int Detect() => _detector.Detect(Utterance).Count;
}
