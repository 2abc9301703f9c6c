using System.Net;
using System.Net.Http.Json;
using System.Text;
using Frontdesk.Platform;
using Frontdesk.Reminders;
using Frontdesk.Tests.Infrastructure;
using static Frontdesk.Tests.Reminders.ReminderHelpers;

namespace Frontdesk.Tests.Reminders;

public class ReminderSettingsTests
{
    [Fact]
    public async Task A_new_clinic_reminds_a_day_and_two_hours_before_with_reply_words_and_the_manage_link_and_never_offers_CANCEL()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var receptionist = TestApp.As(clinic.Id, "receptionist");
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await receptionist.GetAsync($"/api/clinics/{clinic.Id}/reminders")).StatusCode);   // admin only (API.md)
        using var admin = TestApp.As(clinic.Id);
        var body = await TestClinic.Json(await admin.GetAsync($"/api/clinics/{clinic.Id}/reminders"));
        Assert.True(body.GetProperty("enabled").GetBoolean());
        Assert.Equal(["P1D", "PT2H"], body.GetProperty("offsets").EnumerateArray().Select(o => o.GetString()));
        Assert.False(body.GetProperty("custom").GetBoolean());
        var template = body.GetProperty("template").GetString()!;
        Assert.Equal(ReminderTemplate.Default, template);
        Assert.Contains("Reply C to confirm or R to reschedule", template);
        Assert.Contains("{{manageLink}}", template);
        Assert.DoesNotMatch(@"(?i)reply\s+cancel", template);
        Assert.Null(ReminderTemplate.Problem(template));
    }

    [Fact]
    public async Task An_admin_sets_offsets_and_a_template_which_are_stored_canonical_largest_first_and_audited()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = TestApp.As(clinic.Id);
        const string template = "{{clinicName}}: see you {{when}} with {{practitioner}}, {{patientName}}. Reply C to confirm. Change: {{manageLink}}";
        var r = await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/reminders",
            new { enabled = true, offsets = Offsets("PT30M", "P1W", "P1DT12H"), template });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var body = await TestClinic.Json(r);
        Assert.Equal(["P7D", "P1DT12H", "PT30M"], body.GetProperty("offsets").EnumerateArray().Select(o => o.GetString()));
        Assert.Equal(template, body.GetProperty("template").GetString());
        Assert.True(body.GetProperty("custom").GetBoolean());
        Assert.Equal(body.GetRawText(), (await TestClinic.Json(await admin.GetAsync($"/api/clinics/{clinic.Id}/reminders"))).GetRawText());
        Assert.Equal("""["P7D","P1DT12H","PT30M"]""", await TestApp.ScalarAsync<string>(
            "select detail -> 'offsets' from audit_trail where clinic_id = $1 and action = 'updated' and entity = 'reminder_settings'", clinic.Id) is { } d
                ? d.Replace(" ", "", StringComparison.Ordinal) : null);

        // template null goes back to the default text
        var reset = await TestClinic.Json(await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/reminders", new { enabled = true, offsets = Offsets("P1D") }));
        Assert.Equal(ReminderTemplate.Default, reset.GetProperty("template").GetString());
        Assert.False(reset.GetProperty("custom").GetBoolean());
    }

    [Fact]
    public async Task Only_an_admin_changes_reminder_settings()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var receptionist = TestApp.As(clinic.Id, "receptionist");
        var r = await receptionist.PutAsJsonAsync($"/api/clinics/{clinic.Id}/reminders", new { enabled = false, offsets = Offsets("P1D") });
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        Assert.Equal(Problems.Forbidden, (await ProblemAsync(r)).GetProperty("type").GetString());
        Assert.True(await TestApp.ScalarAsync<bool>("select reminders_enabled from clinics where id = $1", clinic.Id));
    }

    internal static async Task<System.Text.Json.JsonElement> ProblemAsync(HttpResponseMessage r)
    {
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        return System.Text.Json.JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    public static TheoryData<string, string> BadBodies => new()
    {
        { """{"enabled": true, "offsets": []}""", "offsets" },
        { """{"enabled": true, "offsets": ["P1D","PT2H","PT3H","PT4H","PT5H","PT6H"]}""", "offsets" },
        { """{"enabled": true, "offsets": ["1 day"]}""", "ISO 8601" },
        { """{"enabled": true, "offsets": ["P1M"]}""", "ISO 8601" },
        { """{"enabled": true, "offsets": ["P"]}""", "ISO 8601" },
        { """{"enabled": true, "offsets": ["P1DT"]}""", "ISO 8601" },
        { """{"enabled": true, "offsets": ["-P1D"]}""", "ISO 8601" },
        { """{"enabled": true, "offsets": ["PT10M"]}""", "range" },
        { """{"enabled": true, "offsets": ["P15D"]}""", "range" },
        { """{"enabled": true, "offsets": ["P1D", "PT24H"]}""", "twice" },
        { """{"enabled": true, "offsets": ["P1D"], "template": ""}""", "1–1600" },
        { """{"enabled": true, "offsets": ["P1D"], "template": "Hi {{name}}, see you {{when}}"}""", "Unknown placeholders: name" },
        { """{"enabled": true, "offsets": ["P1D"], "template": "See you {{when}}. Reply CANCEL to cancel."}""", "opt-out keyword" },
        { """{"enabled": true, "offsets": ["P1D"], "template": "See you {{when}}. To cancel, text 'end'."}""", "opt-out keyword" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Bad_settings_are_a_400_validation_problem_and_change_nothing(string json, string detail)
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = TestApp.As(clinic.Id);
        var r = await admin.PutAsync($"/api/clinics/{clinic.Id}/reminders", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var problem = await ProblemAsync(r);
        Assert.Equal(Problems.Validation, problem.GetProperty("type").GetString());
        Assert.Contains(detail, problem.GetProperty("detail").GetString());
        await AssertUnchangedAsync(clinic.Id);
    }

    [Theory]
    [InlineData("""{"offsets": ["P1D"]}""")]
    [InlineData("""{"enabled": true}""")]
    [InlineData("""{"enabled": "yes", "offsets": ["P1D"]}""")]
    [InlineData("""{"enabled": true, "offsets": "P1D"}""")]
    [InlineData("""{"enabled": true, "offsets": [null]}""")]
    [InlineData("not json")]
    public async Task Unreadable_or_incomplete_bodies_are_a_400_problem_and_change_nothing(string json)
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = TestApp.As(clinic.Id);
        var r = await admin.PutAsync($"/api/clinics/{clinic.Id}/reminders", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.StartsWith("https://frontdesk.dev/problems/", (await ProblemAsync(r)).GetProperty("type").GetString());
        await AssertUnchangedAsync(clinic.Id);
    }

    static async Task AssertUnchangedAsync(Guid clinicId)
    {
        Assert.True(await TestApp.ScalarAsync<bool>(
            "select reminders_enabled and reminder_offsets = array[interval '1 day', interval '2 hours'] from clinics where id = $1", clinicId));
        Assert.Null(await TestApp.ScalarAsync<string>("select reminder_template from clinics where id = $1", clinicId));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and entity = 'reminder_settings'", clinicId));
    }

    [Theory]
    [InlineData("P1D", 24 * 60)]
    [InlineData("PT2H", 120)]
    [InlineData("P1W", 7 * 24 * 60)]
    [InlineData("P1DT2H30M", 26 * 60 + 30)]
    [InlineData("PT90M", 90)]
    public void ISO_durations_parse_to_minutes_and_format_canonically(string text, int minutes)
    {
        Assert.Equal(TimeSpan.FromMinutes(minutes), IsoDuration.Parse(text));
        Assert.Equal(TimeSpan.FromMinutes(minutes), IsoDuration.Parse(IsoDuration.Format(TimeSpan.FromMinutes(minutes))));
    }

    [Fact]
    public void The_template_renders_every_placeholder_and_keeps_a_caller_supplied_non_name_out()
    {
        var london = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        var at = new DateTimeOffset(2026, 12, 1, 9, 30, 0, TimeSpan.Zero);
        var text = ReminderTemplate.Render(null, "Jane Doe", at, london, "Dr Who", "Harley Clinic", "https://x.test/manage/abc");
        Assert.Equal("Hi Jane Doe, a reminder of your appointment at Harley Clinic on Tuesday 1 December at 09:30 with Dr Who. "
                     + "Reply C to confirm or R to reschedule. To change or cancel: https://x.test/manage/abc", text);
        Assert.StartsWith("Hi there,", ReminderTemplate.Render(null, "Call +44 7700 900123 now", at, london, "Dr Who", "C", "l"));
    }
}
