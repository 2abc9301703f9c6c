using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tenancy;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Tenancy;

/// <summary>Roles fail closed (issue 14): a token whose app_role is missing or unknown is the least
/// privileged member, never an admin.</summary>
public class RoleTests
{
    /// <summary>What only admins (or doctors, for exports) may do, each with a body that would succeed for an admin.</summary>
    static IEnumerable<(HttpMethod Method, string Url, object? Body)> AdminOnly(TestClinic c) =>
    [
        (HttpMethod.Post, $"/api/clinics/{c.Id}/practitioners", new { name = "Dr Sneaky" }),
        (HttpMethod.Delete, $"/api/patients/{c.Id}/{c.PatientIds[0]}", null),
        (HttpMethod.Get, $"/api/patients/{c.Id}/{c.PatientIds[0]}/export", null),
        (HttpMethod.Post, $"/api/clinics/{c.Id}/knowledge/documents", new { title = "T", source = "s.md", content = "Open 9 to 5." }),
        (HttpMethod.Post, $"/api/clinics/{c.Id}/knowledge/synonyms", new { phrase = "nose job", expansion = "rhinoplasty" }),
        (HttpMethod.Put, $"/api/clinics/{c.Id}/followup", new { outboundAgent = "x", agentName = "X" }),
        (HttpMethod.Put, $"/api/clinics/{c.Id}/procedures/Peel", new { synonyms = new[] { "peel" } }),
        (HttpMethod.Delete, $"/api/clinics/{c.Id}/procedures/Facelift", null),
        (HttpMethod.Put, $"/api/clinics/{c.Id}/practitioners/{c.PractitionerId}/calendar", new { calendarId = "a@b.c" }),
        (HttpMethod.Post, $"/api/clinics/{c.Id}/slots",
            new { practitionerId = c.PractitionerId, startsAt = DateTimeOffset.UtcNow.AddDays(60), endsAt = DateTimeOffset.UtcNow.AddDays(60).AddHours(1), durationMinutes = 30 }),
    ];

    [Theory]
    [InlineData(null)]
    [InlineData("superuser")]
    [InlineData("Admin")]
    [InlineData("")]
    [InlineData("patient")]
    public async Task A_token_with_a_missing_or_unknown_app_role_is_refused_what_admins_may_do(string? appRole)
    {
        var c = await TestClinic.CreateAsync(slots: 1, patients: 1);
        using var client = TestApp.Client(TestApp.Token(RequestClaims.ForClinic(c.Id, "no-role-user", appRole)));
        var auditBefore = await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1", c.Id);

        foreach (var (method, url, body) in AdminOnly(c))
        {
            using var request = new HttpRequestMessage(method, url) { Content = body is null ? null : JsonContent.Create(body) };
            using var r = await client.SendAsync(request);
            Assert.True(r.StatusCode == HttpStatusCode.Forbidden, $"{method} {url}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
            Assert.Equal(Problems.Forbidden, (await Json(r)).GetProperty("type").GetString());
        }

        // Nothing changed: no practitioner, slot, document or setting was written, no patient erased.
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from practitioners where clinic_id = $1", c.Id));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from calendar_slots where clinic_id = $1", c.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from knowledge_documents where clinic_id = $1", c.Id));
        Assert.Equal("sarah_outbound", await TestApp.ScalarAsync<string>("select followup_agent from clinics where id = $1", c.Id));
        Assert.Equal(4L, await TestApp.ScalarAsync<long>("select count(*) from clinic_procedures where clinic_id = $1", c.Id));
        Assert.Null(await TestApp.ScalarAsync<DateTime?>("select erased_at from patients where id = $1", c.PatientIds[0]));
        Assert.Null(await TestApp.ScalarAsync<string>("select calendar_id from practitioners where id = $1", c.PractitionerId));
        Assert.Equal(auditBefore, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1", c.Id));
    }

    [Fact]
    public async Task A_token_without_app_role_still_does_what_every_member_may()
    {
        var c = await TestClinic.CreateAsync(slots: 2, patients: 1);
        using var client = TestApp.Client(TestApp.Token(RequestClaims.ForClinic(c.Id, "no-role-user")));
        var claim = await TestClinic.Json(await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic",
            new { slotId = c.SlotIds[0], patientId = c.PatientIds[0], clinicId = c.Id }));
        var bookingId = claim.GetProperty("bookingId").GetGuid();
        var booking = await TestClinic.Json(await client.GetAsync($"/api/bookings/{c.Id}/{bookingId}"));
        Assert.Equal("confirmed", booking.GetProperty("status").GetString());
        // The booking is attributed to the caller, whose role the database sees as none at all.
        Assert.Equal("no-role-user", await TestApp.ScalarAsync<string>(
            "select actor from audit_trail where clinic_id = $1 and entity_id = $2 order by id desc limit 1", c.Id, bookingId.ToString()));
    }

    [Fact]
    public async Task Admins_keep_their_rights()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 1);
        using var admin = TestApp.As(c.Id, "admin");
        using (var r = await admin.PostAsJsonAsync($"/api/clinics/{c.Id}/practitioners", new { name = "Dr New" }))
            Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        using (var r = await admin.DeleteAsync($"/api/patients/{c.Id}/{c.PatientIds[0]}"))
            Assert.Equal(HttpStatusCode.NoContent, r.StatusCode);
    }

    [Theory]
    [InlineData("admin", AppRoles.Admin)]
    [InlineData("receptionist", AppRoles.Receptionist)]
    [InlineData("doctor", AppRoles.Doctor)]
    [InlineData(null, AppRoles.None)]
    [InlineData("", AppRoles.None)]
    [InlineData("ADMIN", AppRoles.None)]
    [InlineData("owner", AppRoles.None)]
    [InlineData("agent", AppRoles.None)]
    public void A_tokens_app_role_maps_to_a_known_staff_role_or_none(string? claim, AppRoles expected)
    {
        var user = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity(
            new[] { new System.Security.Claims.Claim("role", "authenticated"), new System.Security.Claims.Claim("org_id", Guid.NewGuid().ToString()) }
                .Concat(claim is null ? [] : [new System.Security.Claims.Claim("app_role", claim)]), "test"));
        var claims = Auth.ClaimsOf(user)!;
        Assert.Equal(expected, Roles.Of(claims));
        Assert.Equal(expected != AppRoles.None, claims.AppRole is not null);
    }

    [Fact]
    public void Service_role_passes_every_role_check_unless_a_check_excludes_it()
    {
        var svc = new RequestClaims(RequestClaims.ServiceRole, null, "svc", null);
        Assert.True(svc.Has(AppRoles.Admin));
        Assert.False(svc.Has(AppRoles.Doctor, service: false));
        Assert.Null(svc.Deny(AppRoles.Admin, "no"));
        var doctor = RequestClaims.ForClinic(Guid.NewGuid(), "d", "doctor");
        Assert.True(doctor.Has(AppRoles.Doctor | AppRoles.Admin));
        Assert.NotNull(doctor.Deny(AppRoles.Admin, "no"));
    }

    static async Task<JsonElement> Json(HttpResponseMessage r) => JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
}
