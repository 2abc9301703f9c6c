using Frontdesk.Privacy.Detection;

namespace Frontdesk.Tests.Privacy;

public class PiiScorerTests
{
    private static readonly IReadOnlySet<string> Scored = new HashSet<string> { PiiTypes.Name, PiiTypes.Address, PiiTypes.Phone, PiiTypes.Email };

    [Fact]
    public void Scorer_counts_a_hand_made_file_as_the_README_defines()
    {
        var samples = LabelledSample.ReadJsonl(Path.Combine(AppContext.BaseDirectory, "Privacy", "scorer-sample.jsonl"));
        var predictions = new Dictionary<string, EntitySpan[]>
        {
            // "Sarah" alone: overlap 5 / union 11 < 0.5, so a miss and a false positive;
            // "12 Baker Street." overlaps 15 / 16: a hit.
            ["s1"] = [new(PiiTypes.Name, 11, 16), new(PiiTypes.Address, 37, 53)],
            // the phone is right; the email is labelled as a name (wrong type: fp for name, fn for email);
            // "Monday" as a name overlaps an unscored date: ignored, not a false positive.
            ["s2"] = [new(PiiTypes.Phone, 5, 18), new(PiiTypes.Name, 28, 43), new(PiiTypes.Name, 47, 53)],
            ["s3"] = [new(PiiTypes.Name, 0, 7)],  // "Nothing": a plain false positive
        };
        var scorer = new PiiScorer(Scored);
        foreach (var s in samples) scorer.Add(s.Spans, predictions[s.Id]);

        var byType = scorer.Types.ToDictionary(t => t.Type);
        Assert.Equal((0, 3, 1), Counts(byType[PiiTypes.Name]));
        Assert.Equal((1, 0, 0), Counts(byType[PiiTypes.Address]));
        Assert.Equal((1, 0, 0), Counts(byType[PiiTypes.Phone]));
        Assert.Equal((0, 0, 1), Counts(byType[PiiTypes.Email]));
        // Type-agnostic headline: the email-as-name now counts as a hit; "Sarah" and "Nothing" remain misses.
        Assert.Equal((3, 2, 1), Counts(scorer.Headline));
        Assert.Equal(0.6, scorer.Headline.Precision, 6);
        Assert.Equal(0.75, scorer.Headline.Recall, 6);
        Assert.Equal(5 * 0.6 * 0.75 / (4 * 0.6 + 0.75), scorer.Headline.F2, 6);
    }

    [Fact]
    public void One_prediction_matches_at_most_one_gold_span()
    {
        var scorer = new PiiScorer(Scored);
        scorer.Add([new(PiiTypes.Name, 0, 10), new(PiiTypes.Name, 0, 10)], [new(PiiTypes.Name, 0, 10)]);
        Assert.Equal((1, 0, 1), Counts(scorer.Types.Single()));
    }

    private static (int, int, int) Counts(TypeScore t) => (t.TruePositives, t.FalsePositives, t.FalseNegatives);
}
