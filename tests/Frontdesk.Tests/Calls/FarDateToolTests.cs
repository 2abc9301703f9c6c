using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Tests.Infrastructure;
using static Frontdesk.Tests.Calls.VapiPayloads;

namespace Frontdesk.Tests.Calls;

/// <summary>
/// A date at the calendar's edge in a tool's arguments: the day after 9999-12-31 (or a zone's offset
/// applied to 0001-01-01) does not exist, and the arithmetic used to throw — a 500 to Vapi for what the
/// model sent. Now the caller is asked for the day again and nothing is stored.
/// </summary>
public class FarDateToolTests
{
    public static TheoryData<string, string> Cases() => new()
    {
        { "check_availability", "9999-12-31" },
        { "check_availability", "9999-12-31T23:59:59Z" },
        { "check_availability", "0001-01-01T00:00:00+14:00" },
        { "join_waitlist", "9999-12-31" },
        { "join_waitlist", "0001-01-01" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_date_off_the_calendar_is_asked_again_not_a_500(string tool, string date)
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 2);
        using var client = TestApp.Factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Vapi-Secret", secret);
        var r = await client.PostAsJsonAsync("/vapi/webhook", ToolCall(NewCall(), TwilioFixture.NewPhone(), "t-far", tool,
            new { date, procedure = "Rhinoplasty", patientName = "Far Date" }));

        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, text);
        var (answer, error) = Result(JsonDocument.Parse(text).RootElement);
        Assert.True(error, answer);
        Assert.Contains("date", answer, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from waitlist_entries where clinic_id = $1", clinic.Id));
    }
}
