using System.Text.Json;
using Frontdesk.Reception;
using Frontdesk.Tests.Knowledge;

namespace Frontdesk.Tests.Reception;

/// <summary>Advice and emergencies are not answered from the knowledge base; ordinary questions always are.</summary>
public class CareQuestionsTests
{
    public static TheoryData<string> DevQuestions()
    {
        var data = new TheoryData<string>();
        foreach (var line in File.ReadLines(Path.Combine(KnowledgeFixtures.CorpusDir, "..", "dev-questions.jsonl")))
            data.Add(JsonDocument.Parse(line).RootElement.GetProperty("question").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(DevQuestions))]
    public void None_of_the_shared_development_questions_is_taken_for_advice_or_an_emergency(string question) =>
        Assert.Equal(CareVerdict.None, CareQuestions.Classify(question));

    [Theory]
    [InlineData("What happens if I have heavy bleeding after surgery?")]
    [InlineData("Do you treat people who have fainted after a procedure?")]
    [InlineData("what are the risks of breathing problems after a nose job")]
    [InlineData("Can I have fillers while breastfeeding?")]
    [InlineData("Can I eat before my operation?")]
    [InlineData("I'm pregnant can I still have botox")]
    [InlineData("can I take ibuprofen before surgery")]
    [InlineData("how long will I be bruised after a nose job")]
    [InlineData("when can I go back to the gym after my breast implants")]
    [InlineData("is it normal to pay a deposit")]
    [InlineData("")]
    [InlineData(null)]
    public void Questions_about_treatments_in_general_are_ordinary(string? question) =>
        Assert.Equal(CareKind.None, CareQuestions.Classify(question).Kind);

    [Theory]
    [InlineData("I can't breathe and my lips are swelling up after the filler", "cant breathe")]
    [InlineData("my wound is bleeding quite a lot who do I call", "bleeding quite a lot")]
    [InlineData("My husband has collapsed in the car park", "collapsed")]
    [InlineData("the skin on my nose has gone white since the filler this morning", "gone white")]
    [InlineData("I've got chest pain since the operation", "chest pain")]
    [InlineData("I think I'm having an allergic reaction right now", "having an allergic reaction")]
    [InlineData("I want to kill myself", "kill myself")]
    public void A_caller_describing_an_emergency_now_is_an_emergency(string question, string cue)
    {
        var verdict = CareQuestions.Classify(question);
        Assert.Equal(CareKind.Emergency, verdict.Kind);
        Assert.Equal(cue, verdict.Cue);
    }

    [Theory]
    [InlineData("how much is a facelift", true)]
    [InlineData("um so do you have parking", true)]
    [InlineData("Parking near the clinic?", true)]
    [InlineData("yes please that sounds good", false)]
    [InlineData("my name is Jane Doe", false)]
    [InlineData("what time", false)]
    public void A_caller_turn_counts_as_a_question_when_it_asks_one(string turn, bool question) =>
        Assert.Equal(question, KnowledgeTriage.LooksLikeQuestion(turn));

    [Theory]
    [InlineData("My lips are still swollen a week after filler, is that normal?")]
    [InlineData("I have a rash around the stitches, should I be worried?")]
    [InlineData("it's red and hot around the scar, is it infected")]
    [InlineData("my nose looks crooked after the surgery, is this normal")]
    [InlineData("I've got a temperature, do I need antibiotics?")]
    public void A_caller_asking_for_a_judgement_on_their_own_symptom_is_asking_for_advice(string question) =>
        Assert.Equal(CareKind.Advice, CareQuestions.Classify(question).Kind);
}
