using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Frontdesk.Knowledge;

namespace Frontdesk.Tests.Platform;

/// <summary>Issue 14, "regex with catastrophic backtracking": no pattern in the service takes more
/// than linear time on input a client controls.</summary>
public class RegexSafetyTests
{
    [Fact]
    public void A_heading_line_with_a_long_run_of_spaces_is_chunked_in_well_under_a_second()
    {
        // 20 KB: the old ^(#{1,6})\s+(.+?)\s*#*\s*$ backtracked cubically here and pinned a core for minutes.
        var document = "# a" + new string(' ', 20_000) + "b\n\nSome text under it.";
        var watch = Stopwatch.StartNew();
        var chunks = Chunker.Split(document);
        var first = Chunker.FirstH1(document);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal("Some text under it.", Assert.Single(chunks).Body);
        Assert.StartsWith("a ", first, StringComparison.Ordinal);
        Assert.EndsWith(" b", first, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("# Title", 1, "Title")]
    [InlineData("## Price ##", 2, "Price")]
    [InlineData("###   Aftercare   #", 3, "Aftercare")]
    [InlineData("# C#", 1, "C#")]
    [InlineData("###### Six", 6, "Six")]
    public void ATX_headings_are_read_with_their_level_and_text(string line, int level, string text) =>
        Assert.Equal((level, text), Chunker.Heading(line));

    [Theory]
    [InlineData("#NoSpace")]
    [InlineData("####### Seven")]
    [InlineData("# ###")]
    [InlineData("Not # a heading")]
    public void Lines_that_are_not_ATX_headings_are_not_read_as_headings(string line) =>
        Assert.Null(Chunker.Heading(line));

    /// <summary>Shapes that make backtracking patterns blow up: long runs of what a loop accepts,
    /// separators a pattern expects between them, and an ending that makes the match fail.</summary>
    static readonly (string Name, Func<int, string> Make)[] Adversarial =
    [
        ("spaces", n => "a" + new string(' ', n) + "!"),
        ("heading with spaces", n => "# a" + new string(' ', n) + "b"),
        ("tabs", n => new string('\t', n) + "!"),
        ("letters and spaces", n => Repeat("a ", n)),
        ("capitalised words", n => Repeat("Abc ", n)),
        ("numbers and words", n => Repeat("12 Abc ", n)),
        ("digits", n => new string('1', n) + "x"),
        ("digits and spaces", n => Repeat("1 ", n)),
        ("digits and dashes", n => Repeat("1-", n)),
        ("digits and dots", n => Repeat("1.", n)),
        ("plus and digits", n => "+" + Repeat("1 ", n)),
        ("bracketed digits", n => Repeat("(1) ", n)),
        ("local parts", n => Repeat("%a", n)),
        ("dotted labels", n => "a@" + Repeat("b.", n) + "1"),
        ("at signs", n => Repeat("a@", n)),
        ("markdown link openings", n => Repeat("](", n)),
        ("bold marks", n => Repeat("**", n)),
        ("braces", n => "{{" + new string(' ', n) + "a" + new string(' ', n) + "x"),
        ("newlines", n => Repeat("12 Abc Street\n", n)),
        ("corner", n => "corner of " + Repeat("x ", n)),
        ("doses", n => Repeat("1 mg ", n)),
        ("sentence ends", n => Repeat(". ", n)),
        ("list markers", n => new string(' ', n) + "1)"),
    ];

    static string Repeat(string s, int n) => string.Concat(Enumerable.Repeat(s, n / s.Length + 1))[..n];

    /// <summary>Every [GeneratedRegex] in the service, found by reflection so a pattern added later is
    /// checked too, against every adversarial shape at 20,000 characters. Linear patterns take
    /// milliseconds; a backtracking one takes minutes (the old heading pattern: cubic). The bound is
    /// generous, and a slow run is timed once more before it counts, because the suite shares the
    /// cores with everything else it runs.</summary>
    [Fact]
    public void Every_generated_regex_scans_adversarial_input_in_well_under_a_second()
    {
        var regexes = typeof(Chunker).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public))
            .Where(m => m.GetCustomAttribute<GeneratedRegexAttribute>() is not null)
            .Select(m => (Name: $"{m.DeclaringType!.Name}.{m.Name}", Regex: (Regex)m.Invoke(null, null)!))
            .ToList();
        Assert.True(regexes.Count >= 20, $"found only {regexes.Count} generated regexes");
        var slow = new List<string>();
        foreach (var (name, regex) in regexes)
            foreach (var (shape, make) in Adversarial)
            {
                var input = make(20_000);
                TimeSpan Time()
                {
                    var watch = Stopwatch.StartNew();
                    regex.Count(input);
                    return watch.Elapsed;
                }
                if (Time() is var first && first > TimeSpan.FromSeconds(2) && Time() is var again && again > TimeSpan.FromSeconds(2))
                    slow.Add($"{name} on {shape}: {first.TotalMilliseconds:F0} ms, then {again.TotalMilliseconds:F0} ms");
            }
        Assert.True(slow.Count == 0, string.Join("\n", slow));
    }
}
