using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Reception;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Frontdesk.Tests.Reception;

/// <summary>A clock the test sets: the service reads "now" from TimeProvider.</summary>
public sealed class SettableClock : TimeProvider
{
    public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;
    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>The app with its clock under the test's control (the database keeps its own).</summary>
public sealed class ClockedApp : IDisposable
{
    public SettableClock Clock { get; } = new();
    public WebApplicationFactory<Program> App { get; }

    public ClockedApp()
    {
        App = TestApp.Factory.WithWebHostBuilder(b => b.ConfigureTestServices(s =>
        {
            s.AddSingleton<TimeProvider>(Clock);
            TestApp.WithoutWorkers(s);
        }));
        App.CreateClient().Dispose();
    }

    public void Dispose() => App.Dispose();
}

/// <summary>assistant-request: the caller and the date in assistantOverrides.variableValues, in the clinic's time, across a clock change.</summary>
public class CallerVariablesTests(ClockedApp fx) : IClassFixture<ClockedApp>
{
    // London's clocks go forward on Sunday 28 March 2027 at 01:00 UTC.
    static readonly DateTimeOffset SaturdayNoonGmt = new(2027, 3, 27, 12, 0, 0, TimeSpan.Zero);
    static readonly DateTimeOffset SundayNoonUtc = new(2027, 3, 28, 12, 0, 0, TimeSpan.Zero);   // 13:00 BST
    static readonly DateTimeOffset MondayAppointment = new(2027, 3, 29, 8, 30, 0, TimeSpan.Zero); // 09:30 BST

    static readonly object WeekdayHours = new
    {
        openingHours = new
        {
            mon = new[] { new[] { "09:00", "17:00" } }, tue = new[] { new[] { "09:00", "17:00" } }, wed = new[] { new[] { "09:00", "17:00" } },
            thu = new[] { new[] { "09:00", "17:00" } }, fri = new[] { new[] { "09:00", "17:00" } }, sat = new[] { new[] { "10:00", "14:00" } },
        },
    };

    async Task<JsonElement> VariablesAsync(string secret, string? phone)
    {
        var answer = await ReceptionFixtures.VapiJsonAsync(secret, ReceptionFixtures.AssistantRequest(Guid.NewGuid().ToString(), phone), fx.App);
        return answer.GetProperty("assistantOverrides").GetProperty("variableValues");
    }

    /// <summary>A London clinic with Saturday and weekday hours, and one patient booked on the Monday after the change.</summary>
    static async Task<(Guid Clinic, string Secret, string PatientPhone)> ClinicWithBookedPatientAsync()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync("Europe/London", slots: 1, patients: 1, firstSlot: MondayAppointment, name: "Kensington Aesthetics");
        await ReceptionFixtures.PutSettingsAsync(clinic.Id, WeekdayHours);
        using var svc = TestApp.Service();
        await TestApp.ExecAsync("update patients set name = 'Philippa Ashdown-Reeve' where id = $1", clinic.PatientIds[0]);
        await TestClinic.Json(await svc.PostAsJsonAsync("/functions/v1/claim_slot_atomic",
            new { slotId = clinic.SlotIds[0], patientId = clinic.PatientIds[0], clinicId = clinic.Id }));
        var phone = (await TestApp.ScalarAsync<string>("select phone from patients where id = $1", clinic.PatientIds[0]))!;
        return (clinic.Id, secret, phone);
    }

    [Fact]
    public async Task A_known_caller_on_the_saturday_before_the_clock_change_hears_the_date_their_name_and_their_monday_appointment()
    {
        var (_, secret, phone) = await ClinicWithBookedPatientAsync();
        fx.Clock.Now = SaturdayNoonGmt;
        var v = await VariablesAsync(secret, phone);
        Assert.Equal("Kensington Aesthetics", v.GetProperty("clinicName").GetString());
        Assert.Equal("2027-03-27", v.GetProperty("today").GetString());
        Assert.Equal("Saturday", v.GetProperty("weekday").GetString());
        Assert.Equal("12:00", v.GetProperty("localTime").GetString());
        Assert.True(v.GetProperty("openNow").GetBoolean());
        Assert.Equal("Monday 29 March at 09:00", v.GetProperty("nextOpening").GetString());
        Assert.Equal("Philippa", v.GetProperty("patientFirstName").GetString());
        Assert.Equal("Monday 29 March at 09:30 with Dr Test", v.GetProperty("nextAppointment").GetString());
        Assert.Contains("999", v.GetProperty("emergencyInstruction").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_caller_on_the_sunday_after_the_change_gets_summer_time_and_the_same_appointment_time()
    {
        var (_, secret, phone) = await ClinicWithBookedPatientAsync();
        fx.Clock.Now = SundayNoonUtc;
        var v = await VariablesAsync(secret, phone);
        Assert.Equal("2027-03-28", v.GetProperty("today").GetString());
        Assert.Equal("Sunday", v.GetProperty("weekday").GetString());
        Assert.Equal("13:00", v.GetProperty("localTime").GetString());
        Assert.False(v.GetProperty("openNow").GetBoolean());
        Assert.Equal("Monday 29 March at 09:00", v.GetProperty("nextOpening").GetString());
        Assert.Equal("Monday 29 March at 09:30 with Dr Test", v.GetProperty("nextAppointment").GetString());
    }

    [Theory]
    [InlineData("+447700900999")]
    [InlineData(null)]
    [InlineData("anonymous")]
    public async Task An_unknown_or_withheld_number_gets_the_date_and_hours_and_nothing_personal(string? phone)
    {
        var (_, secret, _) = await ClinicWithBookedPatientAsync();
        fx.Clock.Now = SundayNoonUtc;
        var v = await VariablesAsync(secret, phone);
        Assert.Equal("13:00", v.GetProperty("localTime").GetString());
        Assert.Equal("Monday 29 March at 09:00", v.GetProperty("nextOpening").GetString());
        Assert.False(v.TryGetProperty("patientFirstName", out _));
        Assert.False(v.TryGetProperty("nextAppointment", out _));
    }

    [Fact]
    public async Task A_number_shared_by_two_patients_or_an_erased_patients_number_is_not_recognised()
    {
        var (clinic, secret, phone) = await ClinicWithBookedPatientAsync();
        fx.Clock.Now = SaturdayNoonGmt;
        using var svc = TestApp.Service();
        await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinic}/patients", new { name = "Another Person", phone }));
        Assert.False((await VariablesAsync(secret, phone)).TryGetProperty("patientFirstName", out _));

        var (clinic2, secret2, phone2) = await ClinicWithBookedPatientAsync();
        var patient = await TestApp.ScalarAsync<Guid>("select id from patients where clinic_id = $1", clinic2);
        using var admin = TestApp.As(clinic2, "admin");
        Assert.Equal(System.Net.HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/patients/{clinic2}/{patient}")).StatusCode);
        Assert.False((await VariablesAsync(secret2, phone2)).TryGetProperty("patientFirstName", out _));
    }

    [Fact]
    public async Task The_assistant_declares_a_transfer_tool_without_destinations_request_callback_and_a_prompt_that_uses_the_variables()
    {
        var (_, secret, _) = await ClinicWithBookedPatientAsync();
        var answer = await ReceptionFixtures.VapiJsonAsync(secret, ReceptionFixtures.AssistantRequest(Guid.NewGuid().ToString(), null), fx.App);
        var assistant = answer.GetProperty("assistant");
        Assert.Contains("transfer-destination-request", assistant.GetProperty("serverMessages").EnumerateArray().Select(m => m.GetString()));
        var tools = assistant.GetProperty("model").GetProperty("tools").EnumerateArray().ToList();
        var transfer = Assert.Single(tools, t => t.GetProperty("type").GetString() == "transferCall");
        Assert.Equal(0, transfer.GetProperty("destinations").GetArrayLength());
        Assert.Contains(tools, t => t.TryGetProperty("function", out var f) && f.GetProperty("name").GetString() == "request_callback");
        var prompt = assistant.GetProperty("model").GetProperty("messages")[0].GetProperty("content").GetString()!;
        foreach (var name in new[] { "clinicName", "today", "weekday", "localTime", "openNow", "nextOpening", "patientFirstName", "nextAppointment" })
            Assert.Contains("{{" + name + "}}", prompt, StringComparison.Ordinal);
        // transfer-destination-request is a value Vapi allows in serverMessages.
        var allowed = File.ReadLines(Path.Combine(Frontdesk.Tests.Knowledge.KnowledgeFixtures.CorpusDir, "..", "..", "vapi", "server-messages.txt"))
            .Where(l => !l.StartsWith('#') && l.Length > 0).ToHashSet();
        Assert.Contains("transfer-destination-request", allowed);
    }

    [Fact]
    public void A_first_name_is_taken_only_when_it_reads_as_a_name()
    {
        Assert.Equal("Philippa", CallerVariables.FirstName("  Philippa Ashdown-Reeve "));
        Assert.Equal("Anne-Marie", CallerVariables.FirstName("Anne-Marie O'Neil"));
        Assert.Null(CallerVariables.FirstName("+447700900123"));
        Assert.Null(CallerVariables.FirstName("   "));
    }

    [Fact]
    public async Task When_the_lookup_cannot_finish_in_its_budget_the_date_still_goes_out_and_the_hours_are_unknown_not_guessed()
    {
        var (_, secret, phone) = await ClinicWithBookedPatientAsync();
        fx.Clock.Now = SaturdayNoonGmt;
        await using var app = fx.App.WithWebHostBuilder(b => b.UseSetting("Reception:CallerLookupBudgetMs", "50"));
        // Hold the clinic's settings row so the lookup's read waits past its 50 ms budget.
        await using var c = await TestApp.AdminConnectionAsync();
        await using var tx = await c.BeginTransactionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand("lock table reception_settings in access exclusive mode", c, tx))
            await hold.ExecuteNonQueryAsync();
        JsonElement v;
        try
        {
            var answer = await ReceptionFixtures.VapiJsonAsync(secret, ReceptionFixtures.AssistantRequest(Guid.NewGuid().ToString(), phone), app);
            v = answer.GetProperty("assistantOverrides").GetProperty("variableValues");
        }
        finally
        {
            await tx.RollbackAsync();
        }
        Assert.Equal("2027-03-27", v.GetProperty("today").GetString());
        Assert.Equal("12:00", v.GetProperty("localTime").GetString());
        Assert.Equal("unknown", v.GetProperty("openNow").GetString());
        Assert.Equal("unknown", v.GetProperty("nextOpening").GetString());
        Assert.False(v.TryGetProperty("patientFirstName", out _));   // nobody is recognised on a guess
        Assert.Contains("999", v.GetProperty("emergencyInstruction").GetString(), StringComparison.Ordinal);
    }
}
