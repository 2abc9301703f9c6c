using System.Text.Json;
using Frontdesk.Reception;

namespace Frontdesk.Tests.Reception;

/// <summary>The one place that says "open now" and "next opening", in the clinic's zone, across clock changes and closures.</summary>
public class OpeningHoursTests
{
    static readonly TimeZoneInfo London = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
    static readonly TimeZoneInfo NewYork = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");

    static WeekHours Week(string json, string closures = "[]")
    {
        var (settings, error) = ReceptionSettingsParser.Parse(new UpdateReception(JsonDocument.Parse(json).RootElement, JsonDocument.Parse(closures).RootElement));
        Assert.Null(error);
        return settings!.Week;
    }

    static readonly string Weekdays = """{"mon": [["09:00","13:00"],["14:00","18:00"]], "tue": [["09:00","18:00"]], "wed": [["09:00","18:00"]], "thu": [["09:00","18:00"]], "fri": [["09:00","17:00"]], "sat": [], "sun": []}""";

    static DateTimeOffset Utc(string iso) => DateTimeOffset.Parse(iso, System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    // Monday 30 March 2026 is the first weekday after London's clocks went forward (Sunday 29 March, 01:00 UTC):
    // 09:00 BST is 08:00 UTC.
    [InlineData("2026-03-30T07:59:00Z", false)]
    [InlineData("2026-03-30T08:00:00Z", true)]
    [InlineData("2026-03-30T11:59:00Z", true)]
    [InlineData("2026-03-30T12:00:00Z", false)]   // 13:00 BST: lunch
    [InlineData("2026-03-30T13:00:00Z", true)]    // 14:00 BST
    [InlineData("2026-03-30T16:59:00Z", true)]
    [InlineData("2026-03-30T17:00:00Z", false)]   // 18:00 BST
    // Friday 27 March 2026 is still GMT: 09:00 local is 09:00 UTC.
    [InlineData("2026-03-27T08:30:00Z", false)]
    [InlineData("2026-03-27T09:00:00Z", true)]
    public void London_hours_follow_the_local_clock_on_either_side_of_the_spring_change(string at, bool open) =>
        Assert.Equal(open, OpeningHours.IsOpen(Week(Weekdays), London, Utc(at)));

    [Fact]
    public void Next_opening_after_a_friday_in_GMT_is_monday_nine_in_BST_an_hour_earlier_in_UTC()
    {
        var next = OpeningHours.NextOpening(Week(Weekdays), London, Utc("2026-03-27T17:30:00Z"));
        Assert.Equal(Utc("2026-03-30T08:00:00Z"), next);
        Assert.Equal("on Monday 30 March at 09:00", OpeningHours.SpokenRelative(next!.Value, Utc("2026-03-27T17:30:00Z"), London));
    }

    [Fact]
    public void Next_opening_after_an_autumn_friday_in_BST_is_monday_nine_in_GMT()
    {
        // London went back to GMT on Sunday 25 October 2026, 01:00 UTC.
        var next = OpeningHours.NextOpening(Week(Weekdays), London, Utc("2026-10-23T16:30:00Z"));
        Assert.Equal(Utc("2026-10-26T09:00:00Z"), next);
    }

    [Fact]
    public void New_York_opens_at_nine_local_on_both_sides_of_its_march_change()
    {
        // New York went to EDT on Sunday 8 March 2026 at 07:00 UTC: Friday 6 March 09:00 EST = 14:00 UTC, Monday 9 March 09:00 EDT = 13:00 UTC.
        var week = Week(Weekdays);
        Assert.True(OpeningHours.IsOpen(week, NewYork, Utc("2026-03-06T14:00:00Z")));
        Assert.False(OpeningHours.IsOpen(week, NewYork, Utc("2026-03-06T13:59:00Z")));
        Assert.Equal(Utc("2026-03-09T13:00:00Z"), OpeningHours.NextOpening(week, NewYork, Utc("2026-03-06T23:00:00Z")));
        Assert.True(OpeningHours.IsOpen(week, NewYork, Utc("2026-03-09T13:00:00Z")));
        Assert.False(OpeningHours.IsOpen(week, NewYork, Utc("2026-03-09T12:59:00Z")));
        // November, back to EST on Sunday 1 November 2026 at 06:00 UTC.
        Assert.Equal(Utc("2026-11-02T14:00:00Z"), OpeningHours.NextOpening(week, NewYork, Utc("2026-10-30T22:00:00Z")));
    }

    [Fact]
    public void A_range_starting_in_the_hour_the_clocks_skip_opens_at_the_first_minute_that_exists()
    {
        // Sunday 29 March 2026 in London: 01:00–02:00 local does not exist.
        var week = Week("""{"sun": [["01:30","05:00"]]}""");
        var next = OpeningHours.NextOpening(week, London, Utc("2026-03-28T12:00:00Z"));
        Assert.Equal(Utc("2026-03-29T01:00:00Z"), next);   // 02:00 BST
        Assert.True(OpeningHours.IsOpen(week, London, Utc("2026-03-29T01:30:00Z")));
    }

    [Fact]
    public void A_range_in_the_repeated_autumn_hour_opens_at_its_first_occurrence()
    {
        // Sunday 25 October 2026 in London: 01:00–02:00 local happens twice (BST, then GMT).
        var week = Week("""{"sun": [["01:30","03:00"]]}""");
        Assert.Equal(Utc("2026-10-25T00:30:00Z"), OpeningHours.NextOpening(week, London, Utc("2026-10-24T12:00:00Z")));
        Assert.True(OpeningHours.IsOpen(week, London, Utc("2026-10-25T00:45:00Z")));   // 01:45 BST
        Assert.True(OpeningHours.IsOpen(week, London, Utc("2026-10-25T01:45:00Z")));   // 01:45 GMT
    }

    [Fact]
    public void A_closure_closes_its_local_date_and_the_next_opening_skips_it()
    {
        var week = Week(Weekdays, """[{"date": "2026-12-25", "reason": "Christmas Day"}, {"date": "2026-12-28"}]""");
        // Friday 25 December 10:00 GMT: a weekday, closed for Christmas.
        Assert.False(OpeningHours.IsOpen(week, London, Utc("2026-12-25T10:00:00Z")));
        Assert.True(OpeningHours.IsOpen(week, London, Utc("2026-12-24T10:00:00Z")));
        // Monday 28th is closed too: next is Tuesday 29th 09:00.
        Assert.Equal(Utc("2026-12-29T09:00:00Z"), OpeningHours.NextOpening(week, London, Utc("2026-12-24T18:00:00Z")));
    }

    [Fact]
    public void A_closure_is_the_clinics_local_date_not_the_UTC_one()
    {
        // 23:30 New York time on 24 December is already 25 December in UTC.
        var week = Week("""{"thu": [["00:00","24:00"]], "fri": [["00:00","24:00"]]}""", """[{"date": "2026-12-25"}]""");
        Assert.True(OpeningHours.IsOpen(week, NewYork, Utc("2026-12-25T04:30:00Z")));   // Thursday 24th 23:30 EST
        Assert.False(OpeningHours.IsOpen(week, NewYork, Utc("2026-12-25T05:30:00Z")));  // Friday 25th 00:30 EST
    }

    [Fact]
    public void Touching_ranges_and_midnight_continue_one_opening_rather_than_start_another()
    {
        var week = Week("""{"mon": [["00:00","02:00"],["09:00","13:00"],["13:00","17:00"]], "sun": [["20:00","24:00"]]}""");
        // Open Monday 10:00: the next opening is not 13:00 (it continues), it is Sunday 20:00.
        Assert.Equal(Utc("2026-12-06T20:00:00Z"), OpeningHours.NextOpening(week, London, Utc("2026-11-30T10:00:00Z")));
        Assert.True(OpeningHours.IsOpen(week, London, Utc("2026-11-30T13:00:00Z")));
        // Open Sunday 21:00: Monday 00:00 continues the evening; the next opening is Monday 09:00.
        Assert.Equal(Utc("2026-12-07T09:00:00Z"), OpeningHours.NextOpening(week, London, Utc("2026-12-06T21:00:00Z")));
        Assert.True(OpeningHours.IsOpen(week, London, Utc("2026-12-07T01:00:00Z")));
    }

    [Fact]
    public void A_week_without_hours_is_closed_and_never_opens()
    {
        Assert.False(OpeningHours.IsOpen(WeekHours.Closed, London, DateTimeOffset.UtcNow));
        Assert.Null(OpeningHours.NextOpening(WeekHours.Closed, London, DateTimeOffset.UtcNow));
    }

    [Fact]
    public void Spoken_next_opening_says_today_and_tomorrow_in_the_clinics_day()
    {
        var now = Utc("2026-03-28T23:30:00Z");   // Saturday 23:30 GMT in London; already Sunday in Paris
        Assert.Equal("tomorrow at 10:00", OpeningHours.SpokenRelative(Utc("2026-03-29T09:00:00Z"), now, London));   // 10:00 BST
        Assert.Equal("today at 23:45", OpeningHours.SpokenRelative(Utc("2026-03-28T23:45:00Z"), now, London));
    }

    [Theory]
    [InlineData("""{"mon": [["09:00","08:00"]]}""", "ends before it starts")]
    [InlineData("""{"mon": [["09:00","09:00"]]}""", "ends before it starts")]
    [InlineData("""{"mon": [["09:00","13:00"],["12:00","18:00"]]}""", "overlap")]
    [InlineData("""{"mon": [["9:00","13:00"]]}""", "not a pair of times")]
    [InlineData("""{"mon": [["09:00","24:01"]]}""", "not a pair of times")]
    [InlineData("""{"mon": [["24:00","24:00"]]}""", "not a pair of times")]
    [InlineData("""{"mon": [["09:60","10:00"]]}""", "not a pair of times")]
    [InlineData("""{"mon": [["09:00"]]}""", "pair of times")]
    [InlineData("""{"mon": [[9, 17]]}""", "pair of times")]
    [InlineData("""{"mon": "09:00-17:00"}""", "at most 8")]
    [InlineData("""{"monday": []}""", "unknown day")]
    public void Bad_opening_hours_are_refused_with_what_is_wrong(string hours, string expected)
    {
        var (settings, error) = ReceptionSettingsParser.Parse(new UpdateReception(JsonDocument.Parse(hours).RootElement));
        Assert.Null(settings);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[{"date": "2026-02-30"}]""", "YYYY-MM-DD")]
    [InlineData("""[{"date": "25/12/2026"}]""", "YYYY-MM-DD")]
    [InlineData("""[{"reason": "no date"}]""", "YYYY-MM-DD")]
    [InlineData("""[{"date": "2026-12-25"}, {"date": "2026-12-25"}]""", "twice")]
    [InlineData("""{"date": "2026-12-25"}""", "list")]
    [InlineData("""[{"date": "2026-12-25", "reason": 5}]""", "reason")]
    public void Bad_closures_are_refused(string closures, string expected)
    {
        var (settings, error) = ReceptionSettingsParser.Parse(new UpdateReception(JsonDocument.Parse("{}").RootElement, JsonDocument.Parse(closures).RootElement));
        Assert.Null(settings);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GB", "999")]
    [InlineData("US", "911")]
    [InlineData("FR", "112")]
    [InlineData("DE", "112")]
    [InlineData(null, "112")]
    public void The_default_emergency_instruction_names_the_countrys_number(string? country, string number) =>
        Assert.Contains($"call {number} now", ReceptionSettings.DefaultEmergencyInstruction(country), StringComparison.Ordinal);
}
