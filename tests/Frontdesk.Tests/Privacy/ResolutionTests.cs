using Frontdesk.Privacy.Detection;
using static Frontdesk.Tests.Privacy.DetectorAssertions;

namespace Frontdesk.Tests.Privacy;

public class ResolutionTests
{
    private static DetectedEntity E(string type, int start, int end, double score) => new(type, new string('x', end - start), score, start, end);

    [Fact]
    public void Overlapping_candidates_resolve_to_the_longer_span_even_with_a_lower_score()
    {
        var kept = PiiDetector.Resolve([E(PiiTypes.Name, 4, 10, 0.9), E(PiiTypes.Address, 0, 20, 0.6)], 0.5);
        Assert.Equal(PiiTypes.Address, Assert.Single(kept).Type);
    }

    [Fact]
    public void Overlapping_candidates_of_equal_length_resolve_to_the_higher_score()
    {
        var kept = PiiDetector.Resolve([E(PiiTypes.Phone, 0, 12, 0.66), E(PiiTypes.NhsNumber, 0, 12, 0.95)], 0.5);
        Assert.Equal(PiiTypes.NhsNumber, Assert.Single(kept).Type);
    }

    [Fact]
    public void Candidates_that_do_not_overlap_are_all_kept_in_text_order()
    {
        var kept = PiiDetector.Resolve([E(PiiTypes.Email, 30, 40, 0.9), E(PiiTypes.Name, 0, 10, 0.6), E(PiiTypes.Phone, 10, 20, 0.7)], 0.5);
        Assert.Equal([0, 10, 30], kept.Select(k => k.StartPos));
    }

    [Fact]
    public void Threshold_drops_candidates_scoring_below_it()
    {
        const string text = "The code is 460-89-9847.";  // an SSN without a cue scores 0.6
        Assert.Single(new PiiDetector(new PiiDetectorOptions { Threshold = 0.5 }).Detect(text));
        Assert.Empty(new PiiDetector(new PiiDetectorOptions { Threshold = 0.9 }).Detect(text));
        // A bare nine-digit run scores 0.3: found only when the caller asks for everything.
        var ssnOnly = new HashSet<string> { PiiTypes.Ssn };
        Assert.Empty(new PiiDetector(new PiiDetectorOptions { Types = ssnOnly }).Detect("ref 460899847"));
        Assert.Single(new PiiDetector(new PiiDetectorOptions { Types = ssnOnly, Threshold = 0.0 }).Detect("ref 460899847"));
    }

    [Fact]
    public void Types_option_limits_what_is_returned()
    {
        var detector = new PiiDetector(new PiiDetectorOptions { Types = new HashSet<string> { PiiTypes.Email } });
        var found = detector.Detect("My name is Sarah Thompson, email sarah@example.com, phone 020 7946 0958.");
        Assert.Equal(PiiTypes.Email, Assert.Single(found).Type);
    }

    [Fact]
    public void Entity_positions_are_exact_for_every_entity_in_a_busy_utterance()
    {
        const string text =
            "Hi, this is Sarah Thompson, date of birth 14 March 1985. My address is now 27 Harley Street, London W1G 9QY " +
            "and my mobile is 07700 900123. NHS number 943 476 5919, NI AB 12 34 56 C, card 4111 1111 1111 1111. " +
            "I have a history of high blood pressure, I'm allergic to penicillin and I take 20 mg of atorvastatin. " +
            "Email me at sarah dot thompson at gmail dot com.";
        var found = Detect(text);  // Detect asserts text[StartPos..EndPos] == Value for each
        Assert.Equal(
            [PiiTypes.Name, PiiTypes.DateOfBirth, PiiTypes.Address, PiiTypes.Phone, PiiTypes.NhsNumber, PiiTypes.NiNumber,
             PiiTypes.CreditCard, PiiTypes.Medical, PiiTypes.Allergy, PiiTypes.Medication, PiiTypes.Email],
            found.Select(e => e.Type));
    }

    [Fact]
    public void One_detector_gives_the_same_answers_under_concurrent_use()
    {
        string[] texts =
        [
            "My name is Sarah Thompson and my number is 07700 900123.",
            "I live at 123 Main St, Springfield, IL 62704.",
            "I'm allergic to penicillin and I take metformin.",
            "Card 4111 1111 1111 1111, SSN 219-09-9999.",
        ];
        var expected = texts.Select(t => Detector.Detect(t)).ToArray();
        Parallel.For(0, 2_000, i =>
        {
            var k = i % texts.Length;
            Assert.Equal(expected[k], Detector.Detect(texts[k]));
        });
    }
}
