using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Bench;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Calls;

/// <summary>A clinic manages its own follow-up: agent, template, procedures and guides.</summary>
[Collection("twilio")]
public class FollowUpSettingsTests(TwilioFixture fx)
{
    static readonly string[] EyelidSynonyms = ["eyelid surgery", "eye bag removal"];
    static readonly string[] Wrinkle = ["wrinkle"];

    [Fact]
    public async Task Defaults_are_the_seeds_agent_template_and_four_procedures()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        using var client = fx.As(clinic.Id, "receptionist");
        var settings = await TwilioFixture.JsonAsync(await client.GetAsync($"/api/clinics/{clinic.Id}/followup"));
        Assert.Equal("sarah_outbound", settings.GetProperty("outboundAgent").GetString());
        // null means the seed's template (the serializer may omit null members).
        Assert.True(!settings.TryGetProperty("smsTemplate", out var template) || template.ValueKind == JsonValueKind.Null);
        var names = settings.GetProperty("procedures").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Equal(["Breast Augmentation", "Facelift", "Liquid Rhinoplasty", "Rhinoplasty"], names);
    }

    [Fact]
    public async Task A_clinics_own_agent_template_and_procedure_shape_the_next_follow_up()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        using var admin = fx.As(clinic.Id, "admin");
        (await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/followup", new
        {
            outboundAgent = "mia_outbound", agentName = "Mia",
            smsTemplate = "Hello {{patientName}}, here is our {{procedure}} guide: {{pdfLink}} Book: {{bookingLink}} - {{agentName}}, {{clinicName}}",
        })).EnsureSuccessStatusCode();
        var upsert = await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/procedures/Blepharoplasty",
            new { synonyms = EyelidSynonyms, guidePath = "/guides/blepharoplasty-guide.pdf" });
        Assert.Equal(HttpStatusCode.OK, upsert.StatusCode);

        var phone = TwilioFixture.NewPhone();
        var r = await admin.PostAsJsonAsync("/functions/v1/trigger_followup_sms", new
        {
            eventType = "call_ended", callId = "call_" + Guid.NewGuid().ToString("N"), voxanAgentId = "voxan_001", patientPhone = phone,
            patientName = "Ada", leadId = "lead_1", keyword = (string?)null, bookingConfirmed = false, callDuration = 120,
            transcript = "I was asking about eyelid surgery, sorry I have to go",
        });
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        var body = await TwilioFixture.JsonAsync(r);
        Assert.Equal("Blepharoplasty", body.GetProperty("procedure").GetString());
        Assert.Equal("mia_outbound", body.GetProperty("assignedAgent").GetString());
        var sms = await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(60));
        Assert.StartsWith("Hello Ada, here is our Blepharoplasty guide: https://frontdesk.test/guides/blepharoplasty-guide.pdf Book: https://frontdesk.test/book/", sms.Body);
        Assert.EndsWith("- Mia, " + await TestApp.ScalarAsync<string>("select name from clinics where id = $1", clinic.Id), sms.Body);
        Assert.Equal(2L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'updated' and entity in ('followup_settings', 'procedure')", clinic.Id));

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/clinics/{clinic.Id}/procedures/blepharoplasty")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"/api/clinics/{clinic.Id}/procedures/blepharoplasty")).StatusCode);
    }

    [Fact]
    public async Task Bad_settings_and_non_admins_are_refused_and_nothing_changes()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var (other, _) = await TwilioFixture.ClinicAsync();
        using var admin = fx.As(clinic.Id, "admin");
        async Task Expect(HttpResponseMessage r, HttpStatusCode status, string type)
        {
            Assert.Equal(status, r.StatusCode);
            Assert.Equal(type, (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        }
        await Expect(await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/followup",
            new { outboundAgent = "x", agentName = "X", smsTemplate = "Hi {{patientNmae}}" }), HttpStatusCode.BadRequest, Problems.Validation);
        await Expect(await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/followup",
            new { outboundAgent = "x", agentName = "X", quietStart = "21:00" }), HttpStatusCode.BadRequest, Problems.Validation);
        await Expect(await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/followup",
            new { outboundAgent = "x", agentName = "X", quietStart = "9pm", quietEnd = "8am" }), HttpStatusCode.BadRequest, Problems.Validation);
        await Expect(await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/procedures/Botox",
            new { synonyms = Wrinkle, guidePath = "javascript:alert(1)" }), HttpStatusCode.BadRequest, Problems.Validation);
        using var reception = fx.As(clinic.Id, "receptionist");
        await Expect(await reception.PutAsJsonAsync($"/api/clinics/{clinic.Id}/followup", new { outboundAgent = "x", agentName = "X" }),
            HttpStatusCode.Forbidden, Problems.Forbidden);
        using var foreign = fx.As(other.Id, "admin");
        await Expect(await foreign.PutAsJsonAsync($"/api/clinics/{clinic.Id}/procedures/Botox", new { synonyms = Wrinkle }),
            HttpStatusCode.Forbidden, Problems.CrossTenant);

        Assert.Equal("sarah_outbound", await TestApp.ScalarAsync<string>("select followup_agent from clinics where id = $1", clinic.Id));
        Assert.Null(await TestApp.ScalarAsync<string>("select sms_template from clinics where id = $1", clinic.Id));
        Assert.Equal(4L, await TestApp.ScalarAsync<long>("select count(*) from clinic_procedures where clinic_id = $1", clinic.Id));
    }
}
