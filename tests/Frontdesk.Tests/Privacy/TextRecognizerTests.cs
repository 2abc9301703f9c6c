using Frontdesk.Privacy.Detection;
using static Frontdesk.Tests.Privacy.DetectorAssertions;

namespace Frontdesk.Tests.Privacy;

public class TextRecognizerTests
{
    [Fact]
    public void Seed_sentence_gives_the_address_and_the_medical_history_without_the_cue()
    {
        const string text = "My address is 123 Harley Street and I have a history of heart issues";
        var found = Detect(text);
        var address = Assert.Single(found, e => e.Type == PiiTypes.Address);
        Assert.Equal((14, 31, "123 Harley Street"), (address.StartPos, address.EndPos, address.Value));
        var medical = Assert.Single(found, e => e.Type == PiiTypes.Medical);
        Assert.Equal("heart issues", medical.Value);
    }

    [Fact]
    public void Allergy_cue_marks_the_allergen() =>
        Assert.Equal("penicillin", Single("I'm allergic to penicillin", PiiTypes.Allergy).Value);

    [Fact]
    public void Every_item_of_an_allergy_list_is_an_allergy_until_a_new_clause()
    {
        var found = Detect("I'm allergic to latex and shellfish and I take 20 mg of atorvastatin.");
        Assert.Equal(["latex", "shellfish"], found.Where(e => e.Type == PiiTypes.Allergy).Select(e => e.Value));
        Assert.Equal("atorvastatin", Assert.Single(found, e => e.Type == PiiTypes.Medication).Value);
    }

    [Fact]
    public void A_dose_marks_the_medication() =>
        Assert.Equal("atorvastatin", Single("I take 20 mg of atorvastatin", PiiTypes.Medication).Value);

    [Theory]
    [InlineData("I've been diagnosed with type 2 diabetes.", "type 2 diabetes")]
    [InlineData("I suffer from migraines, especially in the mornings.", "migraines")]
    [InlineData("I have asthma and a cold.", "asthma")]
    public void Conditions_after_a_medical_cue_are_medical(string text, string condition) =>
        Assert.Equal(condition, Single(text, PiiTypes.Medical).Value);

    [Fact]
    public void An_everyday_word_in_the_condition_list_needs_a_cue() => None("That was a stroke of luck.", PiiTypes.Medical);

    [Theory]
    [InlineData("Hello, my name is Sarah Thompson and I'd like an appointment.", "Sarah Thompson")]
    [InlineData("Hi, this is James O'Brien calling about my results.", "James O'Brien")]
    [InlineData("I'm Priya, calling for my mother.", "Priya")]
    [InlineData("Can I speak to Dr. Nguyen please?", "Nguyen")]
    [InlineData("Can you tell Mrs Campbell her results are back?", "Campbell")]
    [InlineData("Daniel Fraser speaking, I need a repeat prescription.", "Daniel Fraser")]
    [InlineData("My name is Krisztián Szöllösy.", "Krisztián Szöllösy")]
    public void Names_after_cues_are_found_without_titles(string text, string name) =>
        Assert.Equal(name, Single(text, PiiTypes.Name).Value);

    [Theory]
    [InlineData("May I ask whether the surgery does travel vaccinations?")]
    [InlineData("Will the doctor be in on Monday?")]
    [InlineData("What time does Park Lane Surgery close on Fridays?")]
    [InlineData("I'm calling about the MRI scan I had in April.")]
    [InlineData("Thanks, bye.")]
    public void Capitalised_everyday_words_months_and_places_are_not_names(string text) => None(text, PiiTypes.Name);

    [Theory]
    [InlineData("I was born on 14 March 1985.", "14 March 1985")]
    [InlineData("My date of birth is 09/23/1978.", "09/23/1978")]
    [InlineData("DOB 1975-11-30, last name Martinez.", "1975-11-30")]
    [InlineData("My date of birth is the 21st of June 1949.", "21st of June 1949")]
    public void Dates_after_a_birth_cue_are_dates_of_birth(string text, string date) =>
        Assert.Equal(date, Single(text, PiiTypes.DateOfBirth).Value);

    [Theory]
    [InlineData("The appointment is at 3 pm on 12/05/2024.")]
    [InlineData("I'd like an appointment on the 14th of March.")]
    public void A_plain_date_is_not_a_date_of_birth(string text) => None(text, PiiTypes.DateOfBirth);

    [Theory]
    [InlineData("My email is john.smith@gmail.com if you need it.", "john.smith@gmail.com")]
    [InlineData("You can email me at john dot smith at gmail dot com.", "john dot smith at gmail dot com")]
    [InlineData("It's liam dot khan at hotmail dot co dot uk.", "liam dot khan at hotmail dot co dot uk")]
    public void Written_and_spoken_emails_are_found(string text, string email) =>
        Assert.Equal(email, Single(text, PiiTypes.Email).Value);

    [Theory]
    [InlineData("I live at 123 Main St, Springfield, IL 62704.", "123 Main St, Springfield, IL 62704")]
    [InlineData("We live at Flat 3, 88 Victoria Road, Bristol BS1 6AA.", "Flat 3, 88 Victoria Road, Bristol BS1 6AA")]
    [InlineData("Send it to 2200 Sunset Boulevard, Suite 300, Los Angeles, CA 90026 please.", "2200 Sunset Boulevard, Suite 300, Los Angeles, CA 90026")]
    [InlineData("My postcode is LS6 2AB.", "LS6 2AB")]
    [InlineData("Meet me at 9 Rosemary Close in the morning.", "9 Rosemary Close")]
    public void Street_addresses_in_a_sentence_are_one_span_with_town_and_postcode(string text, string address) =>
        Assert.Equal(address, Single(text, PiiTypes.Address).Value);

    [Fact]
    public void A_mailing_label_is_split_into_its_fields()
    {
        const string text = "William Hughes\n\n20789 Allika 46\n Suite 501\n Riisa\n\n Estonia 62488";
        var values = Detect(text).Where(e => e.Type == PiiTypes.Address).Select(e => e.Value).ToList();
        Assert.Equal(["20789", "Allika 46", "Suite 501", "Riisa", "Estonia", "62488"], values);
    }
}
