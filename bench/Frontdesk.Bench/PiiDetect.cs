using System.Globalization;
using Frontdesk.Privacy.Detection;

namespace Frontdesk.Bench;

/// <summary>Prints what the detector finds in one utterance: for looking at a miss without a debugger.</summary>
public sealed class PiiDetect : IBenchCommand
{
    public string Name => "pii-detect";
    public string Summary => "TEXT [--threshold X]: print the entities found in TEXT";

    public Task<int> RunAsync(string[] args)
    {
        var threshold = 0.5;
        var text = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--threshold" && i + 1 < args.Length) threshold = double.Parse(args[++i], CultureInfo.InvariantCulture);
            else text.Add(args[i]);
        }
        var input = string.Join(' ', text).Replace("\\n", "\n", StringComparison.Ordinal);
        foreach (var e in new PiiDetector(new PiiDetectorOptions { Threshold = threshold }).Detect(input))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{e.Type,-14} {e.Confidence:0.00} [{e.StartPos},{e.EndPos}) {e.Value.ReplaceLineEndings("\\n")}"));
        return Task.FromResult(0);
    }
}
