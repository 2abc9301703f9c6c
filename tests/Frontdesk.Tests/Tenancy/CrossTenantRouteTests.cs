using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Frontdesk.Tests.Tenancy;

/// <summary>
/// The seed's Task 5 for every route, found from the endpoint data source rather than listed by hand
/// (issue 14): a clinic named in the route, the query or the body that is not the token's answers 403
/// <c>cross-tenant</c> with an audit row — before the body is read or validated, so an empty or
/// garbage body changes nothing.
/// </summary>
public partial class CrossTenantRouteTests
{
    static List<RouteEndpoint> Endpoints() =>
        TestApp.Factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();

    static IEnumerable<string> Methods(RouteEndpoint e) =>
        e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods.Where(m => m is not ("HEAD" or "OPTIONS")) ?? [];

    static bool HasBody(string method) => method is "POST" or "PUT" or "PATCH";

    [GeneratedRegex(@"\{(\w+)(:[^}]*)?\}")]
    private static partial Regex Parameter();

    /// <summary>The route with clinicId → <paramref name="clinic"/> and every other parameter a fresh value.</summary>
    static string Path(RouteEndpoint e, Guid clinic) =>
        Parameter().Replace(e.RoutePattern.RawText!, m => m.Groups[1].Value == "clinicId" ? clinic.ToString() : Guid.NewGuid().ToString());

    static Task<long> DeniedAsync(Guid caller, Guid target) => TestApp.ScalarAsync<long>(
        "select count(*) from audit_trail where clinic_id = $1 and action = 'cross_tenant_denied' and entity_id = $2", caller, target.ToString());

    static async Task AssertCrossTenantAsync(HttpResponseMessage r, string what)
    {
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Forbidden, $"{what}: {(int)r.StatusCode} {text}");
        Assert.Equal(Problems.CrossTenant, JsonDocument.Parse(text).RootElement.GetProperty("type").GetString());
    }

    [Fact]
    public void Every_route_names_its_clinic_clinicId_so_the_scope_check_finds_it()
    {
        var misnamed = Endpoints().SelectMany(e => e.RoutePattern.Parameters.Select(p => (e.RoutePattern.RawText, p.Name)))
            .Where(x => x.Name.Contains("clinic", StringComparison.OrdinalIgnoreCase) && x.Name != "clinicId").ToList();
        Assert.Empty(misnamed);
    }

    [Fact]
    public async Task Every_clinic_scoped_route_answers_another_clinics_token_403_and_audits_it_whatever_the_body()
    {
        var a = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var b = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var routes = Endpoints().Where(e => e.RoutePattern.Parameters.Any(p => p.Name == "clinicId"))
            .SelectMany(e => Methods(e).Select(m => (Method: m, Endpoint: e))).ToList();
        Assert.Contains(routes, r => r.Method == "PUT" && r.Endpoint.RoutePattern.RawText == "/api/bookings/{clinicId}/{bookingId}");
        Assert.True(routes.Count >= 25, $"only {routes.Count} clinic routes found");

        // Admins, and tokens without a role (fail closed must not turn the 403 into something else).
        using var admin = TestApp.As(a.Id, "admin");
        using var noRole = TestApp.Client(TestApp.Token(RequestClaims.ForClinic(a.Id, "no-role")));
        string?[] bodies = [null, "", "{", "{\"slotId\": 42, \"name\": \"\\u0000\"}", "[1,2,3]", "\u00ff\u00fe not json"];
        var before = await DeniedAsync(a.Id, b.Id);
        var attempts = 0;
        foreach (var (method, endpoint) in routes)
        {
            foreach (var (client, body) in (HasBody(method) ? bodies : [null]).Select(x => (admin, x)).Append((noRole, null)))
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), Path(endpoint, b.Id));
                if (body is not null)
                    request.Content = new ByteArrayContent(Encoding.Latin1.GetBytes(body))
                    {
                        Headers = { ContentType = new MediaTypeHeaderValue("application/json") },
                    };
                using var r = await client.SendAsync(request);
                await AssertCrossTenantAsync(r, $"{method} {endpoint.RoutePattern.RawText} body {body ?? "(none)"}");
                attempts++;
            }
        }

        Assert.Equal(attempts, await DeniedAsync(a.Id, b.Id) - before);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'cross_tenant_denied'", b.Id));
        // Each row names the route template, never the other clinic's record ids.
        var templates = (await TestApp.ScalarAsync<string[]>(
            "select array_agg(distinct detail->>'method' || ' ' || (detail->>'route')) from audit_trail where clinic_id = $1 and action = 'cross_tenant_denied'", a.Id))!;
        Assert.Equal(routes.Select(r => r.Method + " " + r.Endpoint.RoutePattern.RawText).ToHashSet(), templates.ToHashSet());
    }

    /// <summary>Endpoints whose JSON body has a clinicId member (claim_slot_atomic, hold_slot, redact_and_store_pii, …).</summary>
    static List<(string Method, RouteEndpoint Endpoint)> BodyClinicRoutes() =>
        Endpoints().Where(e => e.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType is { } t
                               && t.GetProperty("ClinicId", BindingFlags.Public | BindingFlags.Instance) is not null)
            .SelectMany(e => Methods(e).Select(m => (m, e))).ToList();

    [Fact]
    public async Task A_clinic_named_in_the_body_that_is_not_the_tokens_is_403_even_when_the_rest_of_the_body_is_invalid()
    {
        var a = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var b = await TestClinic.CreateAsync(slots: 1, patients: 1);
        var routes = BodyClinicRoutes();
        Assert.Contains(routes, r => r.Endpoint.RoutePattern.RawText == "/functions/v1/claim_slot_atomic");
        Assert.Contains(routes, r => r.Endpoint.RoutePattern.RawText == "/functions/v1/redact_and_store_pii");

        using var admin = TestApp.As(a.Id, "admin");
        var before = await DeniedAsync(a.Id, b.Id);
        string[] bodies =
        [
            $$"""{"clinicId": "{{b.Id}}"}""",
            $$"""{"clinicId": "{{b.Id}}", "slotId": 42, "patientId": "nope", "transcript": ""}""",
            $$"""{"ClinicId": "{{b.Id}}", "slotId": "{{b.SlotIds[0]}}", "patientId": "{{b.PatientIds[0]}}"}""",
            // A duplicate member: whichever the binder keeps, the foreign one is refused.
            $$"""{"clinicId": "{{a.Id}}", "clinicId": "{{b.Id}}", "slotId": "{{b.SlotIds[0]}}", "patientId": "{{b.PatientIds[0]}}"}""",
            $$"""{"clinicId": "{{b.Id}}", "slotId": "{{b.SlotIds[0]}}", "patientId": "{{b.PatientIds[0]}}", "transcript": "x", "holder": "h"}""",
        ];
        foreach (var (method, endpoint) in routes)
            foreach (var body in bodies)
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), endpoint.RoutePattern.RawText)
                {
                    Content = new StringContent(body, Encoding.UTF8, "application/json"),
                };
                using var r = await admin.SendAsync(request);
                await AssertCrossTenantAsync(r, $"{method} {endpoint.RoutePattern.RawText} {body}");
            }
        Assert.Equal(routes.Count * bodies.Length, await DeniedAsync(a.Id, b.Id) - before);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1", b.Id));
        Assert.Null(await TestApp.ScalarAsync<string>("select hold_holder from calendar_slots where id = $1", b.SlotIds[0]));
    }

    [Fact]
    public async Task A_body_whose_clinicId_cannot_be_read_names_no_clinic_and_gets_the_ordinary_400()
    {
        var a = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = TestApp.As(a.Id, "admin");
        byte[][] bodies =
        [
            [.. "{\"clinicId\": \""u8, 0xff, 0xfe, .. "\", \"slotId\": 1}"u8],
            [.. "{\""u8, 0xc3, 0x28, .. "\": 1, \"clinicId\": 7}"u8],
            [.. "{\"clinicId\": {\"id\": \""u8, .. Encoding.UTF8.GetBytes(Guid.NewGuid().ToString()), .. "\"}}"u8],
        ];
        foreach (var route in BodyClinicRoutes())
            foreach (var body in bodies)
            {
                using var request = new HttpRequestMessage(new HttpMethod(route.Method), route.Endpoint.RoutePattern.RawText)
                {
                    Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
                };
                using var r = await admin.SendAsync(request);
                Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{route.Endpoint.RoutePattern.RawText}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
            }
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'cross_tenant_denied'", a.Id));
    }

    [Fact]
    public async Task A_clinic_in_the_query_that_is_not_the_tokens_is_403()
    {
        var a = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var b = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = TestApp.As(a.Id, "receptionist");
        var before = await DeniedAsync(a.Id, b.Id);
        using var r = await admin.GetAsync($"/functions/v1/get_clinic_data?clinicId={b.Id}");
        await AssertCrossTenantAsync(r, "get_clinic_data");
        Assert.Equal(1L, await DeniedAsync(a.Id, b.Id) - before);
    }

    [Fact]
    public async Task The_same_clinic_in_route_and_body_and_service_role_anywhere_pass_the_check()
    {
        var a = await TestClinic.CreateAsync(slots: 1, patients: 1);
        using var admin = TestApp.As(a.Id, "receptionist");
        using (var r = await admin.PostAsync("/functions/v1/claim_slot_atomic",
                   new StringContent($$"""{"clinicId": "{{a.Id}}", "slotId": "{{a.SlotIds[0]}}", "patientId": "{{a.PatientIds[0]}}"}""", Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        // An empty body on the own clinic's route is the ordinary 400, not a 403.
        using (var r = await admin.PutAsync($"/api/bookings/{a.Id}/{Guid.NewGuid()}", new StringContent("", Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        using var svc = TestApp.Service();
        using (var r = await svc.GetAsync($"/api/clinics/{a.Id}/practitioners"))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'cross_tenant_denied'", a.Id));
    }
}
