using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Tenancy;

/// <summary>The seed's Task 5 at the API: clinic A's token against clinic B's routes.</summary>
public class CrossTenantTests
{
    static async Task<(TestClinic A, TestClinic B, Guid BBooking)> TwoClinicsWithBookingAsync()
    {
        var a = await TestClinic.CreateAsync();
        var b = await TestClinic.CreateAsync();
        using var bAdmin = TestApp.As(b.Id);
        var claim = await TestClinic.Json(await bAdmin.PostAsJsonAsync("/functions/v1/claim_slot_atomic",
            new { slotId = b.SlotIds[0], patientId = b.PatientIds[0], clinicId = b.Id }));
        return (a, b, claim.GetProperty("bookingId").GetGuid());
    }

    [Fact]
    public async Task Clinic_A_token_gets_403_on_every_clinic_B_route_and_each_attempt_is_audited()
    {
        var (a, b, bBooking) = await TwoClinicsWithBookingAsync();
        using var aClient = TestApp.As(a.Id, "receptionist");

        var attempts = new List<HttpResponseMessage>
        {
            await aClient.GetAsync($"/api/bookings/{b.Id}/{bBooking}"),
            await aClient.PutAsJsonAsync($"/api/bookings/{b.Id}/{bBooking}", new { slotId = b.SlotIds[1] }),
            await aClient.DeleteAsync($"/api/bookings/{b.Id}/{bBooking}"),
            await aClient.GetAsync($"/api/patients/{b.Id}/{b.PatientIds[0]}"),
            await aClient.DeleteAsync($"/api/patients/{b.Id}/{b.PatientIds[0]}"),
            await aClient.GetAsync($"/api/clinics/{b.Id}/slots"),
            await aClient.GetAsync($"/api/clinics/{b.Id}/audit"),
            await aClient.GetAsync($"/functions/v1/get_clinic_data?clinicId={b.Id}"),
            await aClient.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = b.SlotIds[2], patientId = b.PatientIds[1], clinicId = b.Id }),
        };

        foreach (var r in attempts)
        {
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
            Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            var body = await r.Content.ReadAsStringAsync();
            var problem = JsonDocument.Parse(body).RootElement;
            Assert.Equal("https://frontdesk.dev/problems/cross-tenant", problem.GetProperty("type").GetString());
            // No data leaked: nothing of B's in the body.
            Assert.DoesNotContain(bBooking.ToString(), body, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(b.PatientIds[0].ToString(), body, StringComparison.OrdinalIgnoreCase);
        }

        // Every attempt is in A's trail; none in B's.
        var denied = await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'cross_tenant_denied' and entity_id = $2", a.Id, b.Id.ToString());
        Assert.Equal(attempts.Count, denied);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'cross_tenant_denied'", b.Id));
        var route = await TestApp.ScalarAsync<string>(
            "select detail->>'route' from audit_trail where clinic_id = $1 and action = 'cross_tenant_denied' and detail->>'method' = 'PUT'", a.Id);
        Assert.Equal("/api/bookings/{clinicId}/{bookingId}", route);

        // B's data is untouched.
        Assert.Equal("confirmed", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", bBooking));
        Assert.Equal(b.SlotIds[0], await TestApp.ScalarAsync<Guid>("select slot_id from bookings where id = $1", bBooking));
        Assert.Null(await TestApp.ScalarAsync<DateTime?>("select erased_at from patients where id = $1", b.PatientIds[0]));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1", b.Id));
    }

    [Fact]
    public async Task Same_clinic_token_can_read_move_and_cancel_its_booking()
    {
        var (_, b, bBooking) = await TwoClinicsWithBookingAsync();
        using var bClient = TestApp.As(b.Id, "receptionist");
        var get = await TestClinic.Json(await bClient.GetAsync($"/api/bookings/{b.Id}/{bBooking}"));
        Assert.Equal(b.SlotIds[0], get.GetProperty("slotId").GetGuid());
        var moved = await TestClinic.Json(await bClient.PutAsJsonAsync($"/api/bookings/{b.Id}/{bBooking}", new { slotId = b.SlotIds[1] }));
        Assert.Equal(b.SlotIds[1], moved.GetProperty("slotId").GetGuid());
        Assert.Equal(HttpStatusCode.NoContent, (await bClient.DeleteAsync($"/api/bookings/{b.Id}/{bBooking}")).StatusCode);
        Assert.Equal("cancelled", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", bBooking));
    }

    [Fact]
    public async Task get_clinic_data_returns_only_the_callers_clinic()
    {
        var (a, b, bBooking) = await TwoClinicsWithBookingAsync();
        using var aClient = TestApp.As(a.Id);
        var data = await TestClinic.Json(await aClient.GetAsync("/functions/v1/get_clinic_data"));
        Assert.Equal(a.Id, data.GetProperty("clinic").GetProperty("id").GetGuid());
        Assert.Empty(data.GetProperty("bookings").EnumerateArray());
        Assert.Equal(2, data.GetProperty("patients").GetInt64());
        Assert.DoesNotContain(bBooking.ToString(), data.GetRawText(), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(b.Id.ToString(), data.GetRawText(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Service_role_may_administer_any_clinic()
    {
        var (_, b, bBooking) = await TwoClinicsWithBookingAsync();
        using var svc = TestApp.Service();
        var get = await TestClinic.Json(await svc.GetAsync($"/api/bookings/{b.Id}/{bBooking}"));
        Assert.Equal(bBooking, get.GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Deleting_a_clinic_removes_everything_it_owns_and_only_service_role_may()
    {
        var (a, b, bBooking) = await TwoClinicsWithBookingAsync();
        using var bAdmin = TestApp.As(b.Id);
        Assert.Equal(HttpStatusCode.Forbidden, (await bAdmin.DeleteAsync($"/api/clinics/{b.Id}")).StatusCode);
        using var svc = TestApp.Service();
        Assert.Equal(HttpStatusCode.NoContent, (await svc.DeleteAsync($"/api/clinics/{b.Id}")).StatusCode);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("""
            select (select count(*) from bookings where clinic_id = $1) + (select count(*) from calendar_slots where clinic_id = $1)
                 + (select count(*) from patients where clinic_id = $1) + (select count(*) from audit_trail where clinic_id = $1)
            """, b.Id));
        Assert.Equal(HttpStatusCode.NotFound, (await svc.DeleteAsync($"/api/clinics/{b.Id}")).StatusCode);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from clinics where id = $1", a.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where id = $1", bBooking));
    }

    [Fact]
    public async Task Hundred_concurrent_requests_mixing_two_clinics_never_cross()
    {
        var (a, b, bBooking) = await TwoClinicsWithBookingAsync();
        using var aAdmin = TestApp.As(a.Id);
        var aBooking = (await TestClinic.Json(await aAdmin.PostAsJsonAsync("/functions/v1/claim_slot_atomic",
            new { slotId = a.SlotIds[0], patientId = a.PatientIds[0], clinicId = a.Id }))).GetProperty("bookingId").GetGuid();
        var tokens = new Dictionary<Guid, string>
        {
            [a.Id] = TestApp.Token(Frontdesk.Platform.RequestClaims.ForClinic(a.Id, "mix-a", "receptionist")),
            [b.Id] = TestApp.Token(Frontdesk.Platform.RequestClaims.ForClinic(b.Id, "mix-b", "receptionist")),
        };
        var bookings = new Dictionary<Guid, Guid> { [a.Id] = aBooking, [b.Id] = bBooking };
        var before = await DeniedCountAsync(a.Id) + await DeniedCountAsync(b.Id);

        var plan = Enumerable.Range(0, 100).Select(i => (Caller: i % 2 == 0 ? a.Id : b.Id, Target: (i / 2) % 2 == 0 ? a.Id : b.Id)).ToList();
        var results = await Task.WhenAll(plan.Select(async p =>
        {
            using var client = TestApp.Client(tokens[p.Caller]);
            var r = await client.GetAsync($"/api/bookings/{p.Target}/{bookings[p.Target]}");
            return (p.Caller, p.Target, r.StatusCode, Body: await r.Content.ReadAsStringAsync());
        }));

        var cross = results.Where(r => r.Caller != r.Target).ToList();
        var same = results.Where(r => r.Caller == r.Target).ToList();
        Assert.Equal(50, cross.Count);
        Assert.All(cross, r => Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode));
        Assert.All(cross, r => Assert.DoesNotContain(bookings[r.Target].ToString(), r.Body, StringComparison.OrdinalIgnoreCase));
        Assert.All(same, r =>
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(bookings[r.Target], JsonDocument.Parse(r.Body).RootElement.GetProperty("id").GetGuid());
        });
        var after = await DeniedCountAsync(a.Id) + await DeniedCountAsync(b.Id);
        Assert.Equal(cross.Count, after - before);
    }

    static Task<long> DeniedCountAsync(Guid clinic) =>
        TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'cross_tenant_denied'", clinic);
}
