using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tenancy;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Platform;

public class BadInputTests
{
    static async Task<JsonElement> ProblemAsync(HttpResponseMessage r, HttpStatusCode status, string type)
    {
        Assert.Equal(status, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        var body = await r.Content.ReadAsStringAsync();
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);       // no stack trace
        Assert.DoesNotContain("Npgsql", body, StringComparison.Ordinal);      // no SQL internals
        var p = JsonDocument.Parse(body).RootElement;
        Assert.Equal(type, p.GetProperty("type").GetString());
        return p;
    }

    static Task<long> StoredRowsAsync(Guid clinic) => TestApp.ScalarAsync<long>("""
        select (select count(*) from bookings where clinic_id = $1) + (select count(*) from patients where clinic_id = $1)
             + (select count(*) from calendar_slots where clinic_id = $1 and claimed_by is not null)
        """, clinic);

    [Fact]
    public async Task Missing_expired_and_forged_tokens_get_401_and_change_nothing()
    {
        var c = await TestClinic.CreateAsync();
        var before = await StoredRowsAsync(c.Id);
        var claim = new { slotId = c.SlotIds[0], patientId = c.PatientIds[0], clinicId = c.Id };
        var expired = TestApp.Token(RequestClaims.ForClinic(c.Id, "u", "admin"), TimeSpan.FromMinutes(-5));
        var forged = Auth.Mint(Encoding.UTF8.GetBytes("not-the-secret-not-the-secret-not-the-secret!"), RequestClaims.ForClinic(c.Id, "u", "admin"), TimeSpan.FromHours(1));
        var noOrg = TestApp.Token(new RequestClaims("authenticated", null, "u", "admin"));
        foreach (var token in new string?[] { null, expired, forged, noOrg, "garbage" })
        {
            using var client = TestApp.Client(token);
            await ProblemAsync(await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", claim), HttpStatusCode.Unauthorized, Problems.Unauthorized);
            await ProblemAsync(await client.GetAsync($"/api/patients/{c.Id}/{c.PatientIds[0]}"), HttpStatusCode.Unauthorized, Problems.Unauthorized);
        }
        Assert.Equal(before, await StoredRowsAsync(c.Id));
    }

    [Fact]
    public async Task Malformed_uuids_and_json_get_400()
    {
        var c = await TestClinic.CreateAsync();
        var before = await StoredRowsAsync(c.Id);
        using var client = TestApp.As(c.Id);
        await ProblemAsync(await client.GetAsync($"/api/bookings/not-a-uuid/{Guid.NewGuid()}"), HttpStatusCode.BadRequest, Problems.MalformedRequest);
        await ProblemAsync(await client.GetAsync($"/api/bookings/{c.Id}/12345"), HttpStatusCode.BadRequest, Problems.MalformedRequest);
        await ProblemAsync(await client.DeleteAsync($"/api/patients/{c.Id}/xyz"), HttpStatusCode.BadRequest, Problems.MalformedRequest);

        foreach (var body in new[]
        {
            "{\"slotId\": ",                                                                 // truncated
            "not json at all",
            $"{{\"slotId\": \"nope\", \"patientId\": \"{c.PatientIds[0]}\", \"clinicId\": \"{c.Id}\"}}",   // bad uuid
            $"{{\"slotId\": 42, \"patientId\": \"{c.PatientIds[0]}\", \"clinicId\": \"{c.Id}\"}}",         // wrong type
            $"{{\"patientId\": \"{c.PatientIds[0]}\", \"clinicId\": \"{c.Id}\"}}",                          // missing member
        })
        {
            var r = await client.PostAsync("/functions/v1/claim_slot_atomic", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{body} → {(int)r.StatusCode}");
            await ProblemAsync(r, HttpStatusCode.BadRequest, r.StatusCode == HttpStatusCode.BadRequest ? (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString()! : "");
        }
        await ProblemAsync(await client.PostAsJsonAsync($"/api/clinics/{c.Id}/patients", new { name = "X", phone = "12" }), HttpStatusCode.BadRequest, Problems.Validation);
        await ProblemAsync(await client.PostAsJsonAsync($"/api/clinics/{c.Id}/slots",
            new { practitionerId = c.PractitionerId, startsAt = DateTimeOffset.UtcNow.AddDays(40), endsAt = DateTimeOffset.UtcNow.AddDays(39), durationMinutes = 30 }),
            HttpStatusCode.BadRequest, Problems.Validation);
        Assert.Equal(before, await StoredRowsAsync(c.Id));
    }

    [Fact]
    public async Task Unknown_ids_get_404()
    {
        var c = await TestClinic.CreateAsync();
        using var client = TestApp.As(c.Id);
        await ProblemAsync(await client.GetAsync($"/api/bookings/{c.Id}/{Guid.NewGuid()}"), HttpStatusCode.NotFound, Problems.NotFound);
        await ProblemAsync(await client.PutAsJsonAsync($"/api/bookings/{c.Id}/{Guid.NewGuid()}", new { slotId = c.SlotIds[0] }), HttpStatusCode.NotFound, Problems.NotFound);
        await ProblemAsync(await client.DeleteAsync($"/api/bookings/{c.Id}/{Guid.NewGuid()}"), HttpStatusCode.NotFound, Problems.NotFound);
        await ProblemAsync(await client.GetAsync($"/api/patients/{c.Id}/{Guid.NewGuid()}"), HttpStatusCode.NotFound, Problems.NotFound);
        await ProblemAsync(await client.DeleteAsync($"/api/patients/{c.Id}/{Guid.NewGuid()}"), HttpStatusCode.NotFound, Problems.NotFound);
        await ProblemAsync(await client.PostAsJsonAsync($"/api/clinics/{c.Id}/slots",
            new { practitionerId = Guid.NewGuid(), startsAt = DateTimeOffset.UtcNow.AddDays(50), endsAt = DateTimeOffset.UtcNow.AddDays(50).AddHours(1), durationMinutes = 30 }),
            HttpStatusCode.NotFound, Problems.NotFound);
    }

    [Fact]
    public async Task Body_over_the_limit_gets_413_and_stores_nothing()
    {
        var c = await TestClinic.CreateAsync();
        var before = await StoredRowsAsync(c.Id);
        using var client = TestApp.As(c.Id);
        var big = "{\"name\": \"" + new string('x', 2 * 1024 * 1024) + "\", \"phone\": \"+447700900123\"}";
        await ProblemAsync(await client.PostAsync($"/api/clinics/{c.Id}/patients", new StringContent(big, Encoding.UTF8, "application/json")),
            HttpStatusCode.RequestEntityTooLarge, Problems.PayloadTooLarge);
        // Chunked (no Content-Length): counted as it is read.
        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var req = new HttpRequestMessage(HttpMethod.Post, $"/api/clinics/{c.Id}/patients") { Content = chunked };
        req.Headers.TransferEncodingChunked = true;
        await ProblemAsync(await client.SendAsync(req), HttpStatusCode.RequestEntityTooLarge, Problems.PayloadTooLarge);
        Assert.Equal(before, await StoredRowsAsync(c.Id));
    }

    [Fact]
    public async Task Answers_the_framework_gives_itself_carry_our_stable_problem_types()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var client = TestApp.As(c.Id);
        // A route that exists, with a method it does not take.
        await ProblemAsync(await client.PatchAsync($"/api/patients/{c.Id}/{Guid.NewGuid()}", new StringContent("{}", Encoding.UTF8, "application/json")),
            HttpStatusCode.MethodNotAllowed, "https://frontdesk.dev/problems/method-not-allowed");
        // A JSON endpoint sent a form.
        await ProblemAsync(await client.PostAsync($"/api/clinics/{c.Id}/patients", new FormUrlEncodedContent([new("name", "X")])),
            HttpStatusCode.UnsupportedMediaType, Problems.UnsupportedMediaType);
    }

    [Fact]
    public async Task Only_service_role_creates_clinics()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = TestApp.As(c.Id);
        var r = await admin.PostAsJsonAsync("/api/clinics", new { name = "Sneaky", timezone = "Europe/London" });
        await ProblemAsync(r, HttpStatusCode.Forbidden, Problems.Forbidden);
        using var svc = TestApp.Service();
        await ProblemAsync(await svc.PostAsJsonAsync("/api/clinics", new { name = "Bad tz", timezone = "Mars/Olympus" }), HttpStatusCode.BadRequest, Problems.Validation);
    }

    [Fact]
    public async Task Health_reports_database_and_migrations_and_openapi_is_served()
    {
        using var anon = TestApp.Client(null);
        var health = await TestClinic.Json(await anon.GetAsync("/healthz"));
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.True(health.GetProperty("database").GetBoolean());
        var openapi = await TestClinic.Json(await anon.GetAsync("/openapi/v1.json"));
        Assert.True(openapi.GetProperty("paths").TryGetProperty("/functions/v1/claim_slot_atomic", out _));
    }
}
