using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Reception;

/// <summary>GET | PUT /api/clinics/{clinicId}/reception (admin).</summary>
public class ReceptionSettingsTests
{
    [Theory]
    [InlineData("Europe/London", "call 999 now", "NHS 111")]
    [InlineData("America/New_York", "call 911 now", "911")]
    [InlineData("Europe/Paris", "call 112 now", "112")]
    public async Task A_clinic_without_settings_is_closed_has_no_transfer_number_and_its_countrys_emergency_number(string timezone, string expected, string also)
    {
        var (clinic, _) = await ReceptionFixtures.ClinicAsync(timezone);
        using var admin = TestApp.As(clinic.Id);
        var view = await TestClinic.Json(await admin.GetAsync($"/api/clinics/{clinic.Id}/reception"));
        Assert.Equal(0, view.GetProperty("openingHours").GetProperty("mon").GetArrayLength());
        Assert.Equal(0, view.GetProperty("closures").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, view.GetProperty("transferNumber").ValueKind);
        Assert.Equal("warm", view.GetProperty("transferMode").GetString());
        Assert.Contains(expected, view.GetProperty("emergencyInstruction").GetString(), StringComparison.Ordinal);
        Assert.Contains(also, view.GetProperty("emergencyInstruction").GetString(), StringComparison.Ordinal);
        Assert.True(view.GetProperty("defaultEmergencyInstruction").GetBoolean());
        Assert.False(view.GetProperty("openNow").GetBoolean());
        Assert.Equal(JsonValueKind.Null, view.GetProperty("nextOpening").ValueKind);
        Assert.Equal(timezone, view.GetProperty("timezone").GetString());
    }

    [Fact]
    public async Task Put_stores_the_settings_sorted_and_get_returns_them_with_what_they_mean_now()
    {
        var (clinic, _) = await ReceptionFixtures.ClinicAsync();
        using var admin = TestApp.As(clinic.Id);
        var body = new
        {
            openingHours = new { mon = new[] { new[] { "14:00", "18:00" }, new[] { "09:00", "13:00" } }, fri = new[] { new[] { "09:00", "24:00" } }, sun = Array.Empty<string[]>() },
            closures = new[] { new { date = "2026-12-25", reason = (string?)"Christmas Day" }, new { date = "2026-12-24", reason = (string?)null } },
            transferNumber = "+442071234567",
            transferMode = "blind",
            emergencyInstruction = "Call 999 now, then call our aftercare line on 0800 000 0000.",
        };
        var put = await TestClinic.Json(await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/reception", body));
        var get = await TestClinic.Json(await admin.GetAsync($"/api/clinics/{clinic.Id}/reception"));
        foreach (var view in new[] { put, get })
        {
            Assert.Equal("""[["09:00","13:00"],["14:00","18:00"]]""", view.GetProperty("openingHours").GetProperty("mon").GetRawText());
            Assert.Equal("""[["09:00","24:00"]]""", view.GetProperty("openingHours").GetProperty("fri").GetRawText());
            Assert.Equal("[]", view.GetProperty("openingHours").GetProperty("tue").GetRawText());
            Assert.Equal(["2026-12-24", "2026-12-25"], view.GetProperty("closures").EnumerateArray().Select(c => c.GetProperty("date").GetString()));
            Assert.Equal("Christmas Day", view.GetProperty("closures")[1].GetProperty("reason").GetString());
            Assert.Equal("+442071234567", view.GetProperty("transferNumber").GetString());
            Assert.Equal("blind", view.GetProperty("transferMode").GetString());
            Assert.Equal(body.emergencyInstruction, view.GetProperty("emergencyInstruction").GetString());
            Assert.False(view.GetProperty("defaultEmergencyInstruction").GetBoolean());
            Assert.NotEqual(JsonValueKind.Null, view.GetProperty("nextOpening").ValueKind);
        }
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'updated' and entity = 'reception_settings'", clinic.Id));

        // Left out again: back to the defaults.
        var reset = await TestClinic.Json(await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/reception", new { openingHours = new { } }));
        Assert.Equal(JsonValueKind.Null, reset.GetProperty("transferNumber").ValueKind);
        Assert.Equal("warm", reset.GetProperty("transferMode").GetString());
        Assert.True(reset.GetProperty("defaultEmergencyInstruction").GetBoolean());
    }

    public static TheoryData<string, string> BadBodies() => new()
    {
        { "{}", "openingHours is required" },
        { """{"openingHours": []}""", "openingHours is required" },
        { """{"openingHours": {"mon": [["09:00","08:00"]]}}""", "ends before it starts" },
        { """{"openingHours": {"mon": [["09:00","13:00"],["12:30","18:00"]]}}""", "overlap" },
        { """{"openingHours": {"mon": [["9am","5pm"]]}}""", "not a pair of times" },
        { """{"openingHours": {"funday": []}}""", "unknown day" },
        { """{"openingHours": {}, "closures": [{"date": "2026-13-01"}]}""", "YYYY-MM-DD" },
        { """{"openingHours": {}, "closures": [{"date": "9999-12-31"}]}""", "YYYY-MM-DD" },
        { """{"openingHours": {}, "transferNumber": "020 7123 4567"}""", "E.164" },
        { """{"openingHours": {}, "transferNumber": "+4420"}""", "E.164" },
        { """{"openingHours": {}, "transferNumber": "+99912345678"}""", "E.164" },
        { """{"openingHours": {}, "transferMode": "cold"}""", "transferMode" },
        { """{"openingHours": {}, "emergencyInstruction": "   "}""", "emergencyInstruction" },
        { """{"openingHours": {}, "emergencyInstruction": "call\u0000999"}""", "emergencyInstruction" },
        { """{"openingHours": {}, "consultationOffer": "x""" + new string('x', 600) + "\"}", "consultationOffer" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Bad_settings_are_400_with_what_is_wrong_and_nothing_is_stored(string body, string expected)
    {
        var (clinic, _) = await ReceptionFixtures.ClinicAsync();
        using var admin = TestApp.As(clinic.Id);
        using var r = await admin.PutAsync($"/api/clinics/{clinic.Id}/reception", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.BadRequest, text);
        var problem = JsonDocument.Parse(text).RootElement;
        // A NUL is refused at binding (Platform/InputGuard), before the handler names the member.
        var nul = body.Contains("\\u0000", StringComparison.Ordinal);
        Assert.Equal(nul ? Problems.MalformedRequest : Problems.Validation, problem.GetProperty("type").GetString());
        if (!nul) Assert.Contains(expected, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from reception_settings where clinic_id = $1", clinic.Id));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"openingHours": {}, "transferNumber": 5}""")]
    [InlineData("[1,2]")]
    public async Task An_unreadable_body_is_400_and_stores_nothing(string body)
    {
        var (clinic, _) = await ReceptionFixtures.ClinicAsync();
        using var admin = TestApp.As(clinic.Id);
        using var r = await admin.PutAsync($"/api/clinics/{clinic.Id}/reception", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains(JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("type").GetString(),
            new[] { Problems.Validation, Problems.MalformedRequest });
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from reception_settings where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task OpenAPI_declares_the_reception_routes_with_their_typed_results()
    {
        using var anon = TestApp.Client(null);
        var paths = (await TestClinic.Json(await anon.GetAsync("/openapi/v1.json"))).GetProperty("paths");
        foreach (var (path, method) in new[]
        {
            ("/api/clinics/{clinicId}/reception", "get"), ("/api/clinics/{clinicId}/reception", "put"),
            ("/api/clinics/{clinicId}/callbacks", "get"), ("/api/clinics/{clinicId}/callbacks/{id}", "patch"),
            ("/api/clinics/{clinicId}/knowledge/gaps", "get"), ("/api/clinics/{clinicId}/knowledge/gaps/{id}/answer", "post"),
        })
        {
            var responses = paths.GetProperty(path).GetProperty(method).GetProperty("responses");
            Assert.True(responses.GetProperty("200").TryGetProperty("content", out _), $"{method} {path}: 200 has a typed body");
        }
        var callbackSchema = paths.GetProperty("/api/clinics/{clinicId}/callbacks").GetProperty("get").GetProperty("responses").GetProperty("200").GetRawText();
        Assert.Contains("CallbackView", callbackSchema, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("receptionist")]
    [InlineData("doctor")]
    [InlineData("Admin")]
    public async Task Only_an_admin_reads_or_changes_reception_settings(string role)
    {
        var (clinic, _) = await ReceptionFixtures.ClinicAsync();
        using var client = TestApp.As(clinic.Id, role);
        using var get = await client.GetAsync($"/api/clinics/{clinic.Id}/reception");
        using var put = await client.PutAsJsonAsync($"/api/clinics/{clinic.Id}/reception", new { openingHours = new { } });
        foreach (var r in new[] { get, put })
        {
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
            Assert.Equal(Problems.Forbidden, JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("type").GetString());
        }
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from reception_settings where clinic_id = $1", clinic.Id));
    }
}
