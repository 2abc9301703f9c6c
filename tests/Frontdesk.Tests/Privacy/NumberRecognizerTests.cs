using Frontdesk.Privacy.Detection;
using static Frontdesk.Tests.Privacy.DetectorAssertions;

namespace Frontdesk.Tests.Privacy;

public class NumberRecognizerTests
{
    [Theory]
    [InlineData("4111 1111 1111 1111")]
    [InlineData("4111-1111-1111-1111")]
    [InlineData("5555555555554444")]
    [InlineData("501864667909")]          // 12 digits
    [InlineData("4131034282458809939")]   // 19 digits
    [InlineData("3714 496353 98431")]     // Amex grouping
    public void Card_numbers_that_pass_Luhn_are_found_whole(string card)
    {
        var text = $"Please charge my card {card} today.";
        var found = Single(text, PiiTypes.CreditCard);
        Assert.Equal(card, found.Value);
    }

    [Theory]
    [InlineData("4111 1111 1111 1112")]
    [InlineData("501864667908")]
    [InlineData("4131034282458809938")]
    public void Card_numbers_with_a_wrong_check_digit_are_not_cards(string card) =>
        None($"Please charge my card {card} today.", PiiTypes.CreditCard);

    [Theory]
    [InlineData("79927398713", true)]
    [InlineData("79927398710", false)]
    public void Luhn_matches_the_reference_example(string digits, bool valid) => Assert.Equal(valid, Checksums.Luhn(digits));

    [Theory]
    [InlineData("943 476 5919")]
    [InlineData("9434765919")]
    [InlineData("401 023 2137")]
    public void NHS_numbers_with_a_valid_mod_11_check_digit_are_found_after_a_cue(string nhs)
    {
        var found = Single($"My NHS number is {nhs}.", PiiTypes.NhsNumber);
        Assert.Equal(nhs, found.Value);
    }

    [Theory]
    [InlineData("943 476 5918")]
    [InlineData("401 023 2136")]
    public void NHS_numbers_with_a_wrong_check_digit_are_rejected(string nhs) =>
        None($"My NHS number is {nhs}.", PiiTypes.NhsNumber);

    [Fact]
    public void Nine_digits_whose_check_would_be_ten_never_make_a_valid_NHS_number()
    {
        Assert.True(Checksums.NhsMod11("1234567881"));
        // For 100000001 the remainder gives a check of 10, which the NHS never issues.
        for (var last = 0; last <= 9; last++) Assert.False(Checksums.NhsMod11($"100000001{last}"));
    }

    [Theory]
    [InlineData("219-09-9999")]
    [InlineData("078-05-1120")]
    [InlineData("460 89 9847")]
    public void SSNs_that_follow_SSA_rules_are_found(string ssn)
    {
        var found = Single($"My social security number is {ssn}.", PiiTypes.Ssn);
        Assert.Equal(ssn, found.Value);
        Assert.True(found.Confidence >= 0.9, "the cue raises confidence");
    }

    [Theory]
    [InlineData("000-12-3456")]  // area 000
    [InlineData("666-12-3456")]  // area 666
    [InlineData("912-34-5678")]  // area 9xx
    [InlineData("123-00-4567")]  // group 00
    [InlineData("123-45-0000")]  // serial 0000
    [InlineData("123-45 6789")]  // mixed separators
    [InlineData("123 45-6789")]
    public void SSNs_that_break_SSA_rules_are_rejected(string ssn)
    {
        Assert.False(SsnRecognizer.IsValid(ssn));
        None($"My social security number is {ssn}.", PiiTypes.Ssn);
    }

    [Fact]
    public void A_cue_word_raises_SSN_confidence()
    {
        var bare = Single("The code is 460-89-9847.", PiiTypes.Ssn);
        var cued = Single("Here's my SSN: 460-89-9847", PiiTypes.Ssn);
        Assert.True(cued.Confidence > bare.Confidence);
    }

    [Theory]
    [InlineData("AB 12 34 56 C")]
    [InlineData("JG103759A")]
    [InlineData("ce 12 34 56 d")]
    public void NI_numbers_with_an_issued_prefix_are_found(string ni)
    {
        var found = Single($"My national insurance number is {ni}.", PiiTypes.NiNumber);
        Assert.Equal(ni, found.Value);
    }

    [Theory]
    [InlineData("BG 12 34 56 A")]
    [InlineData("GB 12 34 56 A")]
    [InlineData("NK 12 34 56 A")]
    [InlineData("KN 12 34 56 A")]
    [InlineData("TN 12 34 56 A")]
    [InlineData("NT 12 34 56 A")]
    [InlineData("ZZ 12 34 56 A")]
    [InlineData("DA 12 34 56 A")]  // D is never used
    [InlineData("QA 12 34 56 A")]  // Q is never used
    [InlineData("AO 12 34 56 A")]  // O is never the second letter
    [InlineData("AB 12 34 56 E")]  // suffix is A-D
    public void NI_numbers_with_a_never_issued_prefix_or_bad_suffix_are_rejected(string ni) =>
        None($"My national insurance number is {ni}.", PiiTypes.NiNumber);
}
