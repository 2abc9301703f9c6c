using Frontdesk.FollowUp;

namespace Frontdesk.Tests.Calls;

public class FollowUpRulesTests
{
    static readonly ProcedureCatalog Catalog = new(ProcedureCatalog.Defaults);

    [Theory]
    [InlineData("Rhinoplasty", "Rhinoplasty")]
    [InlineData("rhinoplasty", "Rhinoplasty")]
    [InlineData("Liquid Rhinoplasty", "Liquid Rhinoplasty")]
    [InlineData("nose job", "Rhinoplasty")]
    [InlineData("Breast Augmentation", "Breast Augmentation")]
    public void Keywords_match_names_and_synonyms(string keyword, string expected) =>
        Assert.Equal(expected, Catalog.ForKeyword(keyword)?.Name);

    [Theory]
    [InlineData("interested in rhinoplasty... hung up", "Rhinoplasty")]
    [InlineData("I was thinking about a liquid rhinoplasty, then I had to go", "Liquid Rhinoplasty")]
    [InlineData("Could you tell me about the non-surgical nose job?", "Liquid Rhinoplasty")]
    [InlineData("what does a FACE-LIFT cost", "Facelift")]
    [InlineData("the rhinoceros at the zoo", null)]
    [InlineData("just asking about parking", null)]
    public void Transcripts_match_leftmost_longest_at_word_boundaries(string transcript, string? expected) =>
        Assert.Equal(expected, Catalog.Find(transcript)?.Name);

    [Fact]
    public void Templates_render_known_placeholders_and_keep_unknown_ones()
    {
        var text = SmsTemplate.Render("Hi {{patientName}}, {{ procedure }} {{unknown}}", new Dictionary<string, string?> { ["patientName"] = "Jane", ["procedure"] = "Facelift" });
        Assert.Equal("Hi Jane, Facelift {{unknown}}", text);
        Assert.Equal("liquid-rhinoplasty-guide", SmsTemplate.NameFor("Liquid Rhinoplasty"));
    }

    [Fact]
    public void Quiet_hours_move_a_message_to_the_first_allowed_minute_in_the_clinic_zone()
    {
        var london = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        var at2300 = new DateTimeOffset(2026, 1, 14, 23, 0, 0, TimeSpan.Zero);
        Assert.Equal(new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero),
            QuietHours.NextAllowed(at2300, new TimeOnly(21, 0), new TimeOnly(8, 0), london));
        var at0700Summer = new DateTimeOffset(2026, 7, 14, 6, 0, 0, TimeSpan.Zero);   // 07:00 BST
        Assert.Equal(new DateTimeOffset(2026, 7, 14, 7, 0, 0, TimeSpan.Zero),
            QuietHours.NextAllowed(at0700Summer, new TimeOnly(21, 0), new TimeOnly(8, 0), london));
        var noon = new DateTimeOffset(2026, 1, 14, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(noon, QuietHours.NextAllowed(noon, new TimeOnly(21, 0), new TimeOnly(8, 0), london));
        Assert.Equal(noon, QuietHours.NextAllowed(noon, null, null, london));
    }

    [Fact]
    public void Booking_link_tokens_round_trip_and_reject_forgery_and_expiry()
    {
        var tokens = new BookingLinkToken("a-jwt-secret-for-the-test-0123456789"u8.ToArray());
        var clinic = Guid.NewGuid();
        var lead = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        var token = tokens.Create(clinic, lead, "Liquid Rhinoplasty", now.AddDays(14));
        Assert.Equal(new BookingLink(clinic, lead, "Liquid Rhinoplasty", DateTimeOffset.FromUnixTimeSeconds(now.AddDays(14).ToUnixTimeSeconds())), tokens.Validate(token, now));
        Assert.Null(tokens.Validate(token, now.AddDays(15)));
        Assert.Null(new BookingLinkToken("another-secret-0123456789012345678"u8.ToArray()).Validate(token, now));
        Assert.Null(tokens.Validate(token[..^2] + (token[^2] == 'A' ? "B" : "A") + token[^1], now));
        Assert.Null(tokens.Validate("garbage", now));
        Assert.DoesNotContain('+', token);
        Assert.DoesNotContain('/', token);
    }
}
