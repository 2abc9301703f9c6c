using System.Net;
using Frontdesk.StaffConsole;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.StaffConsole;

/// <summary>The settings sections of reception, reminders and SMS limits: admins only, each form through
/// the API's handler (its validation message on a 400 page, the typed values kept, nothing stored).</summary>
public class ConsoleSettingsTests
{
    static async Task<(TestClinic Clinic, ConsoleClient Admin)> AdminAsync()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (admin, _) = await ConsoleClient.SignedInAsync(clinic.Id, "admin");
        return (clinic, admin);
    }

    static (string, string)[] Week(string mon = "09:00-13:00, 14:00-18:00", string sat = "", string closures = "2026-12-25 Christmas Day\n2026-12-26",
        string number = "+442071234567", string mode = "blind") =>
        [("mon", mon), ("tue", "09:00-17:30"), ("wed", ""), ("thu", ""), ("fri", "08:00–12:00"), ("sat", sat), ("sun", ""),
         ("closures", closures), ("transferNumber", number), ("transferMode", mode), ("emergencyInstruction", ""), ("consultationOffer", "")];

    [Fact]
    public async Task Reception_hours_closures_and_transfer_are_saved_through_the_reception_API_and_shown_back()
    {
        var (clinic, admin) = await AdminAsync();
        using var _a = admin;
        var page = await admin.GetAsync(ConsoleRoutes.Settings);
        Assert.NotNull(page.Document.QuerySelector("#reception form[action='/console/settings/reception'] input[name=mon]"));
        Assert.Contains("call 999", page.Document.QuerySelector("#reception")!.TextContent);   // the UK default is named

        var saved = await admin.PostAsync(ConsoleRoutes.Settings + "/reception", Week());
        Assert.Equal(ConsoleRoutes.Settings + "?done=saved#reception", saved.Location);
        using var api = TestApp.As(clinic.Id, "admin");
        var view = await TestClinic.Json(await api.GetAsync($"/api/clinics/{clinic.Id}/reception"));
        Assert.Equal("""[["09:00","13:00"],["14:00","18:00"]]""", view.GetProperty("openingHours").GetProperty("mon").GetRawText());
        Assert.Equal("""[["08:00","12:00"]]""", view.GetProperty("openingHours").GetProperty("fri").GetRawText());
        Assert.Equal(2, view.GetProperty("closures").GetArrayLength());
        Assert.Equal("Christmas Day", view.GetProperty("closures")[0].GetProperty("reason").GetString());
        Assert.Equal("+442071234567|blind", view.GetProperty("transferNumber").GetString() + "|" + view.GetProperty("transferMode").GetString());
        Assert.True(view.GetProperty("defaultEmergencyInstruction").GetBoolean());
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'updated' and entity = 'reception_settings'", clinic.Id));

        var shown = await admin.GetAsync(ConsoleRoutes.Settings);
        Assert.Equal("09:00-13:00, 14:00-18:00", shown.Document.QuerySelector("#h-mon")!.GetAttribute("value"));
        Assert.Contains("2026-12-25 Christmas Day", shown.Document.QuerySelector("#closures")!.TextContent);
        Assert.NotNull(shown.Document.QuerySelector("#transferMode option[value=blind][selected]"));

        // The API's checks, their messages on a 400 page, the typed values kept, nothing changed.
        foreach (var (fields, message) in new[]
                 {
                     (Week(mon: "09:00 until 13:00"), "Monday: write each range as a start and an end"),
                     (Week(mon: "13:00-09:00"), "ends before it starts"),
                     (Week(sat: "25:00-26:00"), "is not a pair of times"),
                     (Week(closures: "christmas"), "closures: each entry needs a date"),
                     (Week(number: "07700 900123"), "transferNumber must be a valid phone number"),
                     (Week(mode: "sideways"), "transferMode is"),
                 })
        {
            var bad = await admin.PostAsync(ConsoleRoutes.Settings + "/reception", fields);
            Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
            Assert.True(bad.Text.Contains(message, StringComparison.Ordinal), message + ": " + bad.Document.QuerySelector("[role=alert]")?.TextContent);
            Assert.Equal(fields.Single(f => f.Item1 == "mon").Item2, bad.Document.QuerySelector("#h-mon")!.GetAttribute("value"));
        }
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'updated' and entity = 'reception_settings'", clinic.Id));
        Assert.Equal("+442071234567", await TestApp.ScalarAsync<string>("select transfer_number from reception_settings where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task Reminders_and_SMS_limits_are_saved_through_their_APIs_and_bad_values_are_400_pages()
    {
        var (clinic, admin) = await AdminAsync();
        using var _a = admin;
        var page = await admin.GetAsync(ConsoleRoutes.Settings);
        Assert.Contains("{{manageLink}}", page.Document.QuerySelector("#reminders")!.TextContent);

        var saved = await admin.PostAsync(ConsoleRoutes.Settings + "/reminders", ("enabled", "on"), ("offsets", "P2D, PT3H"),
            ("template", "Hi {{patientName}}, see you {{when}}. {{manageLink}}"));
        Assert.Equal(ConsoleRoutes.Settings + "?done=saved#reminders", saved.Location);
        Assert.Equal("true|2|Hi {{patientName}}, see you {{when}}. {{manageLink}}", await TestApp.ScalarAsync<string>(
            "select reminders_enabled || '|' || cardinality(reminder_offsets) || '|' || reminder_template from clinics where id = $1", clinic.Id));
        Assert.Equal("P2D, PT3H", (await admin.GetAsync(ConsoleRoutes.Settings)).Document.QuerySelector("#offsets")!.GetAttribute("value"));

        var badOffset = await admin.PostAsync(ConsoleRoutes.Settings + "/reminders", ("offsets", "tomorrow"));
        Assert.Equal(HttpStatusCode.BadRequest, badOffset.Status);
        Assert.Contains("is not an ISO 8601 duration", badOffset.Text);
        Assert.Equal("tomorrow", badOffset.Document.QuerySelector("#offsets")!.GetAttribute("value"));
        var badTemplate = await admin.PostAsync(ConsoleRoutes.Settings + "/reminders", ("offsets", "P1D"), ("template", "See you {{nope}}"));
        Assert.Equal(HttpStatusCode.BadRequest, badTemplate.Status);
        Assert.Contains("Unknown placeholders: nope", badTemplate.Text);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsync(ConsoleRoutes.Settings + "/reminders", ("offsets", ""))).Status);
        Assert.Equal(2, await TestApp.ScalarAsync<int>("select cardinality(reminder_offsets) from clinics where id = $1", clinic.Id));

        var sms = await admin.PostAsync(ConsoleRoutes.Settings + "/sms", ("countries", "gb, IE"), ("quota", "120"));
        Assert.Equal(ConsoleRoutes.Settings + "?done=saved#sms", sms.Location);
        Assert.Equal("{GB,IE}|120", await TestApp.ScalarAsync<string>(
            "select sms_allowed_countries::text || '|' || sms_daily_quota from clinics where id = $1", clinic.Id));
        var shown = await admin.GetAsync(ConsoleRoutes.Settings);
        Assert.Equal("GB, IE", shown.Document.QuerySelector("#countries")!.GetAttribute("value"));
        Assert.Contains("0 sent today of 120", shown.Text);
        foreach (var (countries, quota, message) in new[] { ("XX", "10", "is not an ISO 3166-1 alpha-2 country code"), ("GB", "-1", "whole number"),
                     ("GB", "ten", "whole number"), ("GB", "200000", "dailyQuota is between 0 and 100000") })
        {
            var bad = await admin.PostAsync(ConsoleRoutes.Settings + "/sms", ("countries", countries), ("quota", quota));
            Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
            Assert.Contains(message, bad.Text);
        }
        Assert.Equal("{GB,IE}|120", await TestApp.ScalarAsync<string>(
            "select sms_allowed_countries::text || '|' || sms_daily_quota from clinics where id = $1", clinic.Id));
        // Empty fields go back to the defaults, as a PUT without them does.
        await admin.PostAsync(ConsoleRoutes.Settings + "/sms", ("countries", ""), ("quota", ""));
        Assert.Equal("null|500", await TestApp.ScalarAsync<string>(
            "select coalesce(sms_allowed_countries::text, 'null') || '|' || sms_daily_quota from clinics where id = $1", clinic.Id));

        // Receptionists reach none of it.
        var (receptionist, _) = await ConsoleClient.SignedInAsync(clinic.Id, "receptionist");
        using var _r = receptionist;
        foreach (var section in new[] { "reception", "reminders", "sms" })
            Assert.Equal(HttpStatusCode.Forbidden, (await receptionist.PostAsync($"{ConsoleRoutes.Settings}/{section}", ("quota", "1"))).Status);
        Assert.Equal("null|500", await TestApp.ScalarAsync<string>(
            "select coalesce(sms_allowed_countries::text, 'null') || '|' || sms_daily_quota from clinics where id = $1", clinic.Id));
    }

    [Fact]
    public async Task Who_consults_for_a_procedure_and_its_length_are_set_in_settings_through_the_procedure_API()
    {
        var (clinic, admin) = await AdminAsync();
        using var _a = admin;
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        const string Count = "select count(*) from procedure_practitioners pp join clinic_procedures p on p.clinic_id = pp.clinic_id and p.id = pp.procedure_id where p.clinic_id = $1 and p.name = 'Rhinoplasty'";
        const string State = "select coalesce(consultation_minutes::text, 'any') || '|' || practitioners_restricted from clinic_procedures where clinic_id = $1 and name = 'Rhinoplasty'";
        var form = await admin.GetAsync(ConsoleRoutes.Settings);
        var rhino = form.Document.QuerySelectorAll("#procedures ul.items > li").Single(li => li.QuerySelector("h3")!.TextContent == "Rhinoplasty");
        Assert.NotNull(rhino.QuerySelector($"input[type=checkbox][name=practitioner][value='{clinic.PractitionerId}']"));
        Assert.NotNull(rhino.QuerySelector("input[type=radio][name=who][value=everyone][checked]"));

        var chosen = await admin.PostAsync(ConsoleRoutes.Settings + "/procedures", ("name", "Rhinoplasty"), ("synonyms", "nose job"), ("minutes", "45"),
            ("who", "chosen"), ("practitioner", clinic.PractitionerId.ToString()));
        Assert.Equal(ConsoleRoutes.Settings + "?done=saved#procedures", chosen.Location);
        Assert.Equal("45|true", await TestApp.ScalarAsync<string>(State, clinic.Id));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(Count, clinic.Id));
        var shown = (await admin.GetAsync(ConsoleRoutes.Settings)).Document.QuerySelectorAll("#procedures ul.items > li").Single(li => li.QuerySelector("h3")!.TextContent == "Rhinoplasty");
        Assert.Equal("45", shown.QuerySelector("input[name=minutes]")!.GetAttribute("value"));
        Assert.NotNull(shown.QuerySelector($"input[name=practitioner][value='{clinic.PractitionerId}'][checked]"));

        // Refused: not a number, out of the API's range, another clinic's practitioner, an unknown choice — nothing changes.
        foreach (var (fields, message) in new (string, string)[][]
                 {
                     [("minutes", "forty")], [("minutes", "2")], [("who", "chosen"), ("practitioner", other.PractitionerId.ToString())],
                     [("who", "chosen"), ("practitioner", "nobody")], [("who", "some")],
                 }.Zip(["whole number of minutes", "consultationMinutes is a whole number of minutes from 5 to 480", "does not have",
                     "Choose practitioners from the list", "Choose every practitioner"]))
        {
            var bad = await admin.PostAsync(ConsoleRoutes.Settings + "/procedures", [("name", "Rhinoplasty"), ("synonyms", "nose job"), .. fields]);
            Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
            Assert.True(bad.Text.Contains(message, StringComparison.Ordinal), message + ": " + bad.Document.QuerySelector("[role=alert]")?.TextContent);
        }
        Assert.Equal("45|true", await TestApp.ScalarAsync<string>(State, clinic.Id));

        // Chosen with none ticked: nobody; everyone and an empty length: back to any.
        await admin.PostAsync(ConsoleRoutes.Settings + "/procedures", ("name", "Rhinoplasty"), ("synonyms", "nose job"), ("minutes", "45"), ("who", "chosen"));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>(Count, clinic.Id));
        Assert.Equal("45|true", await TestApp.ScalarAsync<string>(State, clinic.Id));
        await admin.PostAsync(ConsoleRoutes.Settings + "/procedures", ("name", "Rhinoplasty"), ("synonyms", "nose job"), ("minutes", ""), ("who", "everyone"));
        Assert.Equal("any|false", await TestApp.ScalarAsync<string>(State, clinic.Id));
    }
}
