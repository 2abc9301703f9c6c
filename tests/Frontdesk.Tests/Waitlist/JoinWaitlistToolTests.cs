using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Privacy;
using static Frontdesk.Tests.Calls.VapiPayloads;

namespace Frontdesk.Tests.Waitlist;

/// <summary>join_waitlist, the voice agent's way onto the waitlist for callers with no suitable time (issue 18).</summary>
public class JoinWaitlistToolTests
{
    static async Task<(string Text, bool Error)> ToolAsync(string secret, string call, string phone, string toolCallId, object args)
    {
        using var client = TestApp.Factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Vapi-Secret", secret);
        var r = await client.PostAsJsonAsync("/vapi/webhook", ToolCall(call, phone, toolCallId, "join_waitlist", args));
        return Result(JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement);
    }

    static Task<long> EntriesAsync(Guid clinicId) => TestApp.ScalarAsync<long>("select count(*) from waitlist_entries where clinic_id = $1", clinicId);

    [Fact]
    public async Task A_caller_joins_as_the_patient_of_their_number_with_what_they_asked_for_and_hears_how_offers_come()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 0);
        var phone = TwilioFixture.NewPhone();
        var call = NewCall();
        var day = DateTime.UtcNow.AddDays(9);
        var date = day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

        var (text, error) = await ToolAsync(secret, call, phone, "t1", new
        {
            procedure = "boob job", practitioner = "test", date, toDate = day.AddDays(2).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            partOfDay = "afternoon", patientName = "Jane Caller",
        });
        Assert.False(error, text);
        Assert.StartsWith("You're on the waiting list for a Breast Augmentation consultation with Dr Test between ", text);
        Assert.Contains("in the afternoon", text);
        Assert.Contains("holds it for you for 30 minutes", text);

        var patient = await TestApp.ScalarAsync<Guid>("select id from patients where clinic_id = $1 and phone = $2", clinic.Id, phone);
        Assert.Equal("Jane Caller", await TestApp.ScalarAsync<string>("select name from patients where id = $1", patient));
        Assert.Equal($"voice|{call}|afternoon|Breast Augmentation|{clinic.PractitionerId}|waiting", await TestApp.ScalarAsync<string>("""
            select e.source || '|' || e.call_id || '|' || e.part_of_day || '|' || cp.name || '|' || e.practitioner_id || '|' || e.status
            from waitlist_entries e join clinic_procedures cp on cp.clinic_id = e.clinic_id and cp.id = e.procedure_id
            where e.clinic_id = $1 and e.patient_id = $2
            """, clinic.Id, patient));
        Assert.True(await TestApp.ScalarAsync<bool>("""
            select to_at - from_at = interval '3 days' and expires_at = to_at from waitlist_entries where clinic_id = $1
            """, clinic.Id));

        // The model asks again (a new toolCallId, same arguments): nothing more is stored.
        var (again, _) = await ToolAsync(secret, call, phone, "t2", new
        {
            procedure = "boob job", practitioner = "test", date, toDate = day.AddDays(2).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            partOfDay = "afternoon", patientName = "Jane Caller",
        });
        Assert.Equal(text, again);
        Assert.Equal(1L, await EntriesAsync(clinic.Id));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from patients where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task A_known_caller_with_no_wishes_waits_for_any_time_under_their_own_patient_record()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 0);
        var phone = TwilioFixture.NewPhone();
        using var svc = TestApp.Service();
        var patient = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinic.Id}/patients", new { name = "Known Patient", phone })))
            .GetProperty("id").GetGuid();

        var (text, error) = await ToolAsync(secret, NewCall(), phone, "t1", new { });
        Assert.False(error, text);
        Assert.StartsWith("You're on the waiting list for an appointment. ", text);
        Assert.Equal(patient, await TestApp.ScalarAsync<Guid>("select patient_id from waitlist_entries where clinic_id = $1", clinic.Id));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from patients where clinic_id = $1", clinic.Id));
    }

    [Theory]
    [InlineData("{\"partOfDay\": \"night\"}", "morning, afternoon or evening")]
    [InlineData("{\"procedure\": \"tattoo removal\"}", "don't have that treatment")]
    [InlineData("{\"practitioner\": \"Dr Nobody\"}", "couldn't find a practitioner")]
    [InlineData("{\"date\": \"the day after the party\"}", "didn't catch the date")]
    [InlineData("{\"date\": \"2020-01-01\", \"toDate\": \"2020-01-02\"}", "last day must be ahead")]
    public async Task What_cannot_be_waited_for_is_said_back_and_nothing_is_stored(string arguments, string said)
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 0);
        var (text, error) = await ToolAsync(secret, NewCall(), TwilioFixture.NewPhone(), "t1", JsonDocument.Parse(arguments).RootElement);
        Assert.True(error, text);
        Assert.Contains(said, text);
        Assert.Equal(0L, await EntriesAsync(clinic.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from patients where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task A_number_that_opted_out_of_texts_or_a_hidden_number_cannot_join_and_is_told_why()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 0);
        var phone = TwilioFixture.NewPhone();
        await CallerHashes.OptOutAsync(clinic.Id, phone);
        var (text, error) = await ToolAsync(secret, NewCall(), phone, "t1", new { });
        Assert.True(error);
        Assert.Contains("text START", text);

        var (hidden, hiddenError) = await ToolAsync(secret, NewCall(), "anonymous", "t1", new { });
        Assert.True(hiddenError);
        Assert.Contains("can't see the number", hidden);
        Assert.Equal(0L, await EntriesAsync(clinic.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from patients where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task The_assistant_declares_join_waitlist_with_its_parameters()
    {
        var (_, secret) = await TwilioFixture.ClinicAsync(slots: 0);
        using var client = TestApp.Factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Vapi-Secret", secret);
        var r = await client.PostAsJsonAsync("/vapi/webhook", new { message = new { type = "assistant-request", call = new { id = NewCall() } } });
        var tools = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("assistant").GetProperty("model").GetProperty("tools");
        var join = tools.EnumerateArray().Where(t => t.TryGetProperty("function", out _))
            .Single(t => t.GetProperty("function").GetProperty("name").GetString() == "join_waitlist").GetProperty("function");
        var properties = join.GetProperty("parameters").GetProperty("properties").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "procedure", "practitioner", "date", "toDate", "partOfDay", "patientName" }, properties);
        Assert.Contains("waiting list", join.GetProperty("description").GetString());
    }
}
