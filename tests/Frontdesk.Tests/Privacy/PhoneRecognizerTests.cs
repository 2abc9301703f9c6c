using Frontdesk.Privacy.Detection;
using static Frontdesk.Tests.Privacy.DetectorAssertions;

namespace Frontdesk.Tests.Privacy;

public class PhoneRecognizerTests
{
    [Theory]
    [InlineData("020 7946 0958")]            // GB landline
    [InlineData("07700 900123")]             // GB mobile
    [InlineData("+44 20 7946 0958")]         // international GB
    [InlineData("+447700900123")]
    [InlineData("(415) 555-2671")]           // US parenthesised
    [InlineData("415-555-2671")]             // US dashed
    [InlineData("415.555.2671")]             // US dotted
    [InlineData("+1-903-140-4508x769")]      // extension
    [InlineData("259.735.7502x459")]
    [InlineData("+41 (0)71 526 99 04")]      // trunk zero in brackets
    [InlineData("+49 30 901820")]            // another country's "+" form
    [InlineData("0 7 7 0 0 9 0 0 1 2 3")]    // read out digit by digit
    public void Phone_numbers_in_GB_US_and_international_forms_are_found_whole(string phone)
    {
        var text = $"You can call me on {phone} after five.";
        var found = Single(text, PiiTypes.Phone);
        Assert.Equal(phone, found.Value);
    }

    [Fact]
    public void A_phone_in_a_label_block_is_found_from_the_label()
    {
        var found = Single("Name: Kamila Červinková\nPhone: 451 5986", PiiTypes.Phone);
        Assert.Equal("451 5986", found.Value);
    }

    [Theory]
    [InlineData("The invoice total was 1234567 pence.")]
    [InlineData("Order 2024 arrived in 12 boxes.")]
    public void Digit_runs_without_phone_shape_or_cue_are_not_phones(string text) => None(text, PiiTypes.Phone);
}
