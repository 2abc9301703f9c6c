using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using Frontdesk.Platform;
using Frontdesk.Tests.BookingPage;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using static Frontdesk.Tests.Calls.VapiPayloads;

namespace Frontdesk.Tests.Calls;

/// <summary>
/// Issue 17, "Procedures and who does them": consultation length and practitioners per procedure
/// (PUT /api/clinics/{id}/procedures/{name}), and the voice tools and the booking page offering only
/// slots that fit. "Enough length" = the slot itself is at least consultationMinutes long.
/// </summary>
[Collection("twilio")]
public class ProcedurePractitionerTests(TwilioFixture fx)
{
    /// <summary>Dr Test: four 30-minute slots (TestClinic). Dr Long: two 60-minute slots the day after.
    /// Dr Short: two 30-minute slots two days after.</summary>
    sealed record Clinic(TestClinic C, string Secret, string Name, Guid Long, Guid[] LongSlots, Guid Short, Guid[] ShortSlots)
    {
        public Guid Id => C.Id;
        public Guid Test => C.PractitionerId;
        public IReadOnlyList<Guid> TestSlots => C.SlotIds;
    }

    static async Task<Clinic> ClinicAsync()
    {
        var (c, secret) = await TwilioFixture.ClinicAsync(slots: 4);
        await TestApp.ExecAsync("update clinics set address = $1, phone = $2 where id = $3", BookingPageTests.Address, BookingPageTests.ClinicPhone, c.Id);
        var first = await TestApp.ScalarAsync<DateTime>("select min(starts_at) from calendar_slots where clinic_id = $1", c.Id);
        var start = new DateTimeOffset(DateTime.SpecifyKind(first, DateTimeKind.Utc));
        var (longId, longSlots) = await PractitionerAsync(c.Id, "Dr Long", start.AddDays(1), 60, 2);
        var (shortId, shortSlots) = await PractitionerAsync(c.Id, "Dr Short", start.AddDays(2), 30, 2);
        var name = (await TestApp.ScalarAsync<string>("select name from clinics where id = $1", c.Id))!;
        return new Clinic(c, secret, name, longId, longSlots, shortId, shortSlots);
    }

    /// <summary>A practitioner with <paramref name="count"/> slots of <paramref name="minutes"/> from <paramref name="start"/>.</summary>
    internal static async Task<(Guid Id, Guid[] Slots)> PractitionerAsync(Guid clinicId, string name, DateTimeOffset start, int minutes, int count)
    {
        using var svc = TestApp.Service();
        var id = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinicId}/practitioners", new { name }))).GetProperty("id").GetGuid();
        var gen = await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinicId}/slots",
            new { practitionerId = id, startsAt = start, endsAt = start.AddMinutes(minutes * count), durationMinutes = minutes }));
        return (id, gen.GetProperty("slots").EnumerateArray().Select(s => s.GetProperty("id").GetGuid()).ToArray());
    }

    internal static async Task<JsonElement> PutProcedureAsync(HttpClient admin, Guid clinicId, string name, object body)
    {
        var r = await admin.PutAsJsonAsync($"/api/clinics/{clinicId}/procedures/{Uri.EscapeDataString(name)}", body);
        Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
        return await r.Content.ReadFromJsonAsync<JsonElement>();
    }

    async Task<(string Text, bool Error)> ToolAsync(Clinic c, string phone, string name, object args) =>
        Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(c.Secret, ToolCall(NewCall(), phone, "call_" + Guid.NewGuid().ToString("N"), name, args))));

    static Task<long> BookingsAsync(Guid clinicId) => TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1", clinicId);

    static readonly string[] NoseSynonyms = ["nose job"];
    static readonly string[] FaceSynonyms = ["face lift"];

    // --- settings --------------------------------------------------------------------------------

    [Fact]
    public async Task A_procedure_takes_consultation_minutes_and_practitioner_ids_and_a_put_without_them_goes_back_to_anyone()
    {
        var c = await ClinicAsync();
        using var admin = fx.As(c.Id);

        var view = await PutProcedureAsync(admin, c.Id, "Rhinoplasty",
            new { synonyms = NoseSynonyms, consultationMinutes = 60, practitionerIds = new[] { c.Long, c.Test, c.Long } });

        Assert.Equal(60, view.GetProperty("consultationMinutes").GetInt32());
        Assert.Equal(new[] { c.Long, c.Test }.Order(), view.GetProperty("practitionerIds").EnumerateArray().Select(e => e.GetGuid()).Order());
        var settings = await TwilioFixture.JsonAsync(await admin.GetAsync($"/api/clinics/{c.Id}/followup"));
        var procedures = settings.GetProperty("procedures").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!);
        Assert.Equal(60, procedures["Rhinoplasty"].GetProperty("consultationMinutes").GetInt32());
        Assert.Equal(2, procedures["Rhinoplasty"].GetProperty("practitionerIds").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, procedures["Facelift"].GetProperty("consultationMinutes").ValueKind);
        Assert.Equal(JsonValueKind.Null, procedures["Facelift"].GetProperty("practitionerIds").ValueKind);
        Assert.Equal(60, await TestApp.ScalarAsync<int>(
            "select (detail->>'consultationMinutes')::int from audit_trail where clinic_id = $1 and action = 'updated' and entity = 'procedure'", c.Id));

        var nobody = await PutProcedureAsync(admin, c.Id, "Facelift", new { synonyms = Array.Empty<string>(), practitionerIds = Array.Empty<Guid>() });
        Assert.Equal(0, nobody.GetProperty("practitionerIds").GetArrayLength());

        var reset = await PutProcedureAsync(admin, c.Id, "rhinoplasty", new { synonyms = NoseSynonyms });
        Assert.Equal(JsonValueKind.Null, reset.GetProperty("consultationMinutes").ValueKind);
        Assert.Equal(JsonValueKind.Null, reset.GetProperty("practitionerIds").ValueKind);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>(
            "select count(*) from procedure_practitioners pp join clinic_procedures p on p.id = pp.procedure_id where p.clinic_id = $1 and p.name = 'rhinoplasty'", c.Id));
    }

    public static TheoryData<string, string> BadSettings => new()
    {
        { """{"synonyms":[],"consultationMinutes":0}""", Problems.Validation },
        { """{"synonyms":[],"consultationMinutes":4}""", Problems.Validation },
        { """{"synonyms":[],"consultationMinutes":481}""", Problems.Validation },
        { """{"synonyms":[],"consultationMinutes":-30}""", Problems.Validation },
        { """{"synonyms":[],"consultationMinutes":30.5}""", Problems.MalformedRequest },
        { """{"synonyms":[],"consultationMinutes":"sixty"}""", Problems.MalformedRequest },
        { """{"synonyms":[],"consultationMinutes":99999999999}""", Problems.MalformedRequest },
        { """{"synonyms":[],"practitionerIds":"dr-long"}""", Problems.MalformedRequest },
        { """{"synonyms":[],"practitionerIds":["not-a-uuid"]}""", Problems.MalformedRequest },
        { """{"synonyms":[],"practitionerIds":[null]}""", Problems.MalformedRequest },
        { """{"synonyms":[],"practitionerIds":[{}]}""", Problems.MalformedRequest },
        { """{"synonyms":[],"practitionerIds":["00000000-0000-0000-0000-000000000000"]}""", Problems.Validation },
        { """{"synonyms":[],"practitionerIds":["UNKNOWN"]}""", Problems.Validation },
        { """{"synonyms":[],"practitionerIds":["OTHER"]}""", Problems.Validation },
        { """{"synonyms":[],"practitionerIds":["LONG","OTHER"]}""", Problems.Validation },
        { """{"synonyms":[],"practitionerIds":MANY}""", Problems.Validation },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task Bad_procedure_settings_are_400_problems_and_store_nothing(string body, string type)
    {
        var c = await ClinicAsync();
        var (other, _) = await TwilioFixture.ClinicAsync(slots: 0);
        using var admin = fx.As(c.Id);
        await PutProcedureAsync(admin, c.Id, "Rhinoplasty", new { synonyms = NoseSynonyms, consultationMinutes = 45, practitionerIds = new[] { c.Short } });
        body = body.Replace("UNKNOWN", Guid.NewGuid().ToString()).Replace("OTHER", other.PractitionerId.ToString()).Replace("LONG", c.Long.ToString())
            .Replace("MANY", JsonSerializer.Serialize(Enumerable.Range(0, 101).Select(_ => Guid.NewGuid())));

        var r = await admin.PutAsync($"/api/clinics/{c.Id}/procedures/Rhinoplasty", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        Assert.Equal(type, (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        Assert.Equal("45|True|" + c.Short, await TestApp.ScalarAsync<string>("""
            select p.consultation_minutes || '|' || (case when p.practitioners_restricted then 'True' else 'False' end) || '|' || string_agg(pp.practitioner_id::text, ',')
            from clinic_procedures p left join procedure_practitioners pp on pp.procedure_id = p.id
            where p.clinic_id = $1 and p.name = 'Rhinoplasty' group by p.clinic_id, p.id
            """, c.Id));
        Assert.Equal(NoseSynonyms, await TestApp.ScalarAsync<string[]>("select synonyms from clinic_procedures where clinic_id = $1 and name = 'Rhinoplasty'", c.Id));
    }

    [Fact]
    public async Task Only_an_admin_of_the_clinic_sets_who_does_a_procedure()
    {
        var c = await ClinicAsync();
        var (other, _) = await TwilioFixture.ClinicAsync(slots: 0);
        using var reception = fx.As(c.Id, "receptionist");
        using var foreign = fx.As(other.Id, "admin");
        var body = new { synonyms = NoseSynonyms, practitionerIds = new[] { c.Long } };

        var denied = await reception.PutAsJsonAsync($"/api/clinics/{c.Id}/procedures/Rhinoplasty", body);
        var cross = await foreign.PutAsJsonAsync($"/api/clinics/{c.Id}/procedures/Rhinoplasty", body);

        Assert.Equal(Problems.Forbidden, (await denied.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        Assert.Equal(Problems.CrossTenant, (await cross.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from procedure_practitioners where clinic_id = $1", c.Id));
        Assert.False(await TestApp.ScalarAsync<bool>("select bool_or(practitioners_restricted) from clinic_procedures where clinic_id = $1", c.Id));
    }

    [Fact]
    public async Task Saving_a_procedure_in_the_staff_console_keeps_its_consultation_length_and_practitioners()
    {
        var c = await ClinicAsync();
        using var admin = fx.As(c.Id);
        await PutProcedureAsync(admin, c.Id, "Rhinoplasty", new { synonyms = NoseSynonyms, consultationMinutes = 60, practitionerIds = new[] { c.Long } });
        var (console, _) = await Frontdesk.Tests.StaffConsole.ConsoleClient.SignedInAsync(c.Id, "admin", fx.App);
        using var _c = console;

        var saved = await console.PostAsync(Frontdesk.StaffConsole.ConsoleRoutes.Settings + "/procedures",
            ("name", "Rhinoplasty"), ("synonyms", "nose job, nose reshaping"), ("guide", "/guides/rhinoplasty-guide.pdf"));

        Assert.Equal(Frontdesk.StaffConsole.ConsoleRoutes.Settings + "?done=saved#procedures", saved.Location);
        Assert.Equal(2, await TestApp.ScalarAsync<int>("select cardinality(synonyms) from clinic_procedures where clinic_id = $1 and name = 'Rhinoplasty'", c.Id));
        Assert.Equal("60|" + c.Long, await TestApp.ScalarAsync<string>("""
            select p.consultation_minutes || '|' || string_agg(pp.practitioner_id::text, ',')
            from clinic_procedures p join procedure_practitioners pp on pp.procedure_id = p.id
            where p.clinic_id = $1 and p.name = 'Rhinoplasty' group by p.clinic_id, p.id
            """, c.Id));
    }

    [Fact]
    public async Task OpenAPI_describes_the_procedure_settings_and_the_typed_result()
    {
        using var anon = TestApp.Client(null);
        var doc = await TestClinic.Json(await anon.GetAsync("/openapi/v1.json"));
        var put = doc.GetProperty("paths").GetProperty("/api/clinics/{clinicId}/procedures/{name}").GetProperty("put");
        Assert.Equal("#/components/schemas/ProcedureView",
            put.GetProperty("responses").GetProperty("200").GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString());
        var schemas = doc.GetProperty("components").GetProperty("schemas");
        foreach (var schema in new[] { "UpsertProcedure", "ProcedureView" })
        {
            var properties = schemas.GetProperty(schema).GetProperty("properties");
            Assert.True(properties.TryGetProperty("consultationMinutes", out _), schema);
            Assert.True(properties.TryGetProperty("practitionerIds", out _), schema);
        }
    }

    // --- the voice tools ---------------------------------------------------------------------------

    [Fact]
    public async Task Check_availability_for_a_procedure_offers_only_its_practitioners_slots_that_are_long_enough()
    {
        var c = await ClinicAsync();
        using var admin = fx.As(c.Id);
        // Dr Test and Dr Long consult for it, but Dr Test's 30-minute slots are too short for 60 minutes.
        await PutProcedureAsync(admin, c.Id, "Rhinoplasty", new { synonyms = NoseSynonyms, consultationMinutes = 60, practitionerIds = new[] { c.Test, c.Long } });
        await PutProcedureAsync(admin, c.Id, "Liquid Rhinoplasty", new { synonyms = Array.Empty<string>(), practitionerIds = new[] { c.Short } });
        var phone = TwilioFixture.NewPhone();

        var rhino = await ToolAsync(c, phone, "check_availability", new { procedure = "a nose job" });
        var liquid = await ToolAsync(c, phone, "check_availability", new { procedure = "Liquid Rhinoplasty" });
        var facelift = await ToolAsync(c, phone, "check_availability", new { procedure = "facelift" });
        var any = await ToolAsync(c, phone, "check_availability", new { });

        Assert.StartsWith("Free times for a Rhinoplasty consultation: ", rhino.Text);
        Assert.EndsWith("To book, call book_appointment with the chosen slotId and procedure Rhinoplasty.", rhino.Text);
        Assert.All(c.LongSlots, s => Assert.Contains(s.ToString(), rhino.Text));
        Assert.All(c.TestSlots.Concat(c.ShortSlots), s => Assert.DoesNotContain(s.ToString(), rhino.Text));
        Assert.Contains("with Dr Long (slotId", rhino.Text);

        Assert.All(c.ShortSlots, s => Assert.Contains(s.ToString(), liquid.Text));
        Assert.All(c.TestSlots.Concat(c.LongSlots), s => Assert.DoesNotContain(s.ToString(), liquid.Text));

        // Procedures without the settings, and no procedure, behave as before: every practitioner, soonest first.
        Assert.StartsWith("Free times for a Facelift consultation: ", facelift.Text);
        Assert.All(c.TestSlots, s => Assert.Contains(s.ToString(), facelift.Text));
        Assert.All(c.TestSlots, s => Assert.Contains(s.ToString(), any.Text));
        Assert.StartsWith("Free times: ", any.Text);
    }

    public static TheoryData<string> OddProcedures => new() { "42", "\"\"", "\"   \"", "\"ab\\u0000c\"", "null", "[\"Rhinoplasty\"]", "{\"name\":\"Rhinoplasty\"}", "\"hair transplant\"" };

    [Theory]
    [MemberData(nameof(OddProcedures))]
    public async Task A_procedure_argument_that_names_no_procedure_of_the_clinic_filters_nothing_and_books_as_before(string procedureJson)
    {
        var c = await ClinicAsync();
        using var admin = fx.As(c.Id);
        await PutProcedureAsync(admin, c.Id, "Rhinoplasty", new { synonyms = NoseSynonyms, practitionerIds = Array.Empty<Guid>() });
        var phone = TwilioFixture.NewPhone();
        var args = $$"""{"procedure":{{procedureJson}}}""";
        var bookArgs = $$"""{"slotId":"{{c.TestSlots[0]}}","procedure":{{procedureJson}}}""";

        var check = Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(c.Secret,
            ToolCall(NewCall(), phone, "call_" + Guid.NewGuid().ToString("N"), "check_availability", JsonDocument.Parse(args).RootElement))));
        var book = Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(c.Secret,
            ToolCall(NewCall(), phone, "call_" + Guid.NewGuid().ToString("N"), "book_appointment", JsonDocument.Parse(bookArgs).RootElement))));

        Assert.StartsWith("Free times: ", check.Text);
        Assert.Contains(c.TestSlots[0].ToString(), check.Text);
        Assert.StartsWith("Booked ", book.Text);
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select procedure_id from bookings where clinic_id = $1", c.Id));
    }

    [Fact]
    public async Task Book_appointment_for_a_procedure_refuses_a_slot_that_does_not_fit_offers_ones_that_do_and_records_the_procedure()
    {
        var c = await ClinicAsync();
        using var admin = fx.As(c.Id);
        await PutProcedureAsync(admin, c.Id, "Rhinoplasty", new { synonyms = NoseSynonyms, consultationMinutes = 60, practitionerIds = new[] { c.Test, c.Long } });
        var phone = TwilioFixture.NewPhone();

        var refused = await ToolAsync(c, phone, "book_appointment", new { slotId = c.TestSlots[0], patientName = "Jane Doe", procedure = "rhinoplasty" });

        Assert.False(refused.Error);
        Assert.StartsWith("That time isn't available for a Rhinoplasty consultation, so nothing is booked. I can offer ", refused.Text);
        Assert.Contains($"Their slotIds in the same order: {c.LongSlots[0]}, {c.LongSlots[1]}.", refused.Text);
        Assert.Equal(0L, await BookingsAsync(c.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from patients where clinic_id = $1", c.Id));

        var booked = await ToolAsync(c, phone, "book_appointment", new { slotId = c.LongSlots[1], patientName = "Jane Doe", procedure = "nose job" });
        Assert.StartsWith("Booked ", booked.Text);
        Assert.Contains("with Dr Long", booked.Text);
        Assert.Equal("Rhinoplasty", await TestApp.ScalarAsync<string>(
            "select p.name from bookings b join clinic_procedures p on p.id = b.procedure_id where b.clinic_id = $1", c.Id));

        // A second caller who wanted it hears only times that fit.
        var taken = await ToolAsync(c, TwilioFixture.NewPhone(), "book_appointment", new { slotId = c.LongSlots[1], procedure = "Rhinoplasty" });
        Assert.StartsWith("Sorry, that slot was just taken. I can offer ", taken.Text);
        Assert.EndsWith($"Their slotIds in the same order: {c.LongSlots[0]}.", taken.Text);

        // list_my_appointments names the procedure.
        var list = await ToolAsync(c, phone, "list_my_appointments", new { });
        Assert.Contains("Rhinoplasty consultation on ", list.Text);
    }

    [Fact]
    public async Task A_procedure_nobody_consults_for_is_said_so_and_never_booked_with_anyone()
    {
        var c = await ClinicAsync();
        using var admin = fx.As(c.Id);
        await PutProcedureAsync(admin, c.Id, "Facelift", new { synonyms = FaceSynonyms, practitionerIds = Array.Empty<Guid>() });
        var phone = TwilioFixture.NewPhone();

        var check = await ToolAsync(c, phone, "check_availability", new { procedure = "face lift" });
        var book = await ToolAsync(c, phone, "book_appointment", new { slotId = c.TestSlots[0], procedure = "Facelift" });

        var nobody = $"Nobody at {c.Name} does Facelift consultations at the moment, so I can't book one. Would you like me to take a message for the team?";
        Assert.Equal((nobody, false), check);
        Assert.Equal((nobody, true), book);
        Assert.Equal(0L, await BookingsAsync(c.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from patients where clinic_id = $1", c.Id));
    }

    [Fact]
    public async Task Rescheduling_a_booking_made_for_a_procedure_keeps_to_its_practitioners_and_length()
    {
        var c = await ClinicAsync();
        using var admin = fx.As(c.Id);
        await PutProcedureAsync(admin, c.Id, "Rhinoplasty", new { synonyms = NoseSynonyms, consultationMinutes = 60, practitionerIds = new[] { c.Long } });
        var phone = TwilioFixture.NewPhone();
        var booked = await ToolAsync(c, phone, "book_appointment", new { slotId = c.LongSlots[0], patientName = "Jane Doe", procedure = "Rhinoplasty" });
        Assert.StartsWith("Booked ", booked.Text);

        var refused = await ToolAsync(c, phone, "reschedule_appointment", new { slotId = c.TestSlots[0] });
        Assert.False(refused.Error);
        Assert.StartsWith("That time isn't available for a Rhinoplasty consultation, so the appointment stays on ", refused.Text);
        Assert.EndsWith($"Their slotIds in the same order: {c.LongSlots[1]}.", refused.Text);
        Assert.Equal(c.LongSlots[0], await TestApp.ScalarAsync<Guid>("select slot_id from bookings where clinic_id = $1", c.Id));

        var moved = await ToolAsync(c, phone, "reschedule_appointment", new { slotId = c.LongSlots[1] });
        Assert.StartsWith("Moved the appointment from ", moved.Text);
        Assert.Equal(c.LongSlots[1], await TestApp.ScalarAsync<Guid>("select slot_id from bookings where clinic_id = $1", c.Id));
        Assert.Contains("your Rhinoplasty appointment has moved to ", (await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(60))).Body);
    }

    // --- the booking page ----------------------------------------------------------------------------

    HttpClient Browser() => fx.App.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    static async Task<IDocument> HtmlAsync(HttpResponseMessage r) => await new HtmlParser().ParseDocumentAsync(await r.Content.ReadAsStringAsync());

    static List<Guid> SlotValues(IDocument doc) =>
        doc.QuerySelectorAll("input[type=radio][name=slot]").Select(e => Guid.Parse(e.GetAttribute("value")!)).ToList();

    static FormUrlEncodedContent Form(string csrf, Guid slot) =>
        new([new KeyValuePair<string, string>("csrf", csrf), new KeyValuePair<string, string>("slot", slot.ToString())]);

    [Fact]
    public async Task The_booking_page_offers_only_times_that_fit_the_leads_procedure_and_books_nothing_else()
    {
        var c = await ClinicAsync();
        using var admin = fx.As(c.Id);
        await PutProcedureAsync(admin, c.Id, "Rhinoplasty", new { synonyms = NoseSynonyms, consultationMinutes = 60, practitionerIds = new[] { c.Test, c.Long } });
        var link = await BookingPageTests.FollowUpAsync(admin, c.C, TwilioFixture.NewPhone());
        using var browser = Browser();

        var page = await HtmlAsync(await browser.GetAsync(link.Path));
        Assert.Equal(c.LongSlots.Order(), SlotValues(page).Order());

        // A posted time of a practitioner who does not do it (or too short) is not offered, whatever the form says.
        var csrf = page.QuerySelector("input[name=csrf]")!.GetAttribute("value")!;
        var wrong = await browser.PostAsync(link.Path, Form(csrf, c.TestSlots[0]));
        Assert.Equal(HttpStatusCode.NotFound, wrong.StatusCode);
        var again = await HtmlAsync(wrong);
        Assert.Contains("That time is not offered any more", again.QuerySelector("[role=alert]")!.TextContent);
        Assert.Equal(c.LongSlots.Order(), SlotValues(again).Order());
        Assert.Equal(0L, await BookingsAsync(c.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from patients where clinic_id = $1", c.Id));

        var ok = await browser.PostAsync(link.Path, Form(again.QuerySelector("input[name=csrf]")!.GetAttribute("value")!, c.LongSlots[0]));
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        Assert.Equal(c.LongSlots[0] + "|Rhinoplasty", await TestApp.ScalarAsync<string>(
            "select b.slot_id || '|' || p.name from bookings b join clinic_procedures p on p.id = b.procedure_id where b.clinic_id = $1", c.Id));
    }

    [Fact]
    public async Task The_booking_page_says_when_nobody_consults_for_the_leads_procedure_and_books_nothing()
    {
        var c = await ClinicAsync();
        using var admin = fx.As(c.Id);
        await PutProcedureAsync(admin, c.Id, "Rhinoplasty", new { synonyms = NoseSynonyms, practitionerIds = Array.Empty<Guid>() });
        var link = await BookingPageTests.FollowUpAsync(admin, c.C, TwilioFixture.NewPhone());
        using var browser = Browser();

        var r = await browser.GetAsync(link.Path);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var page = await HtmlAsync(r);
        Assert.Empty(SlotValues(page));
        Assert.Contains($"Sorry, Rhinoplasty consultations can't be booked at {c.Name} at the moment.", page.Body!.TextContent);
        Assert.DoesNotContain("no free consultation times in the next two weeks", page.Body.TextContent);
        Assert.Equal(0L, await BookingsAsync(c.Id));
    }
}
