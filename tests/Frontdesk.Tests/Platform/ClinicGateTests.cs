using System.Net;
using System.Net.Http.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;

namespace Frontdesk.Tests.Platform;

/// <summary>Issue 16: one clinic's burst cannot take the whole connection pool. This instance allows
/// two sessions per clinic and one waiting; the test holds a slot's row lock so the clinic's claims
/// stay in flight inside PostgreSQL, holding their turns, until it lets go.</summary>
public class ClinicGateTests
{
    [Fact]
    public async Task A_clinic_beyond_its_share_of_the_pool_gets_429_with_retry_after_while_other_clinics_are_served()
    {
        await using var app = TestApp.Factory.WithWebHostBuilder(b =>
        {
            b.UseSetting("Database:PerClinicConnections", "2");
            b.UseSetting("Database:PerClinicQueue", "1");
            b.UseSetting("Database:PerClinicWaitMilliseconds", "60000");
        });
        var gate = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<ClinicGate>(app.Services);
        Assert.Equal((2, 1), (gate.PermitsPerClinic, gate.QueuePerClinic));
        var busy = await TestClinic.CreateAsync(slots: 1, patients: 4);
        var other = await TestClinic.CreateAsync(slots: 1, patients: 1);
        HttpClient Client(Guid clinic)
        {
            var c = app.CreateClient();
            c.DefaultRequestHeaders.Authorization = new("Bearer", TestApp.Token(RequestClaims.ForClinic(clinic, "burst", "receptionist")));
            return c;
        }
        Task<HttpResponseMessage> Claim(HttpClient c, TestClinic clinic, int patient) => c.PostAsJsonAsync("/functions/v1/claim_slot_atomic",
            new { slotId = clinic.SlotIds[0], patientId = clinic.PatientIds[patient], clinicId = clinic.Id });

        using var busyClient = Client(busy.Id);
        using var otherClient = Client(other.Id);
        await using var hold = await TestApp.AdminConnectionAsync();
        await using var tx = await hold.BeginTransactionAsync();
        await using (var lk = new Npgsql.NpgsqlCommand("select 1 from calendar_slots where id = $1 for update", hold, tx))
        {
            lk.Parameters.Add(new Npgsql.NpgsqlParameter { Value = busy.SlotIds[0] });
            await lk.ExecuteNonQueryAsync();
        }

        // Two claims take the clinic's two turns and block on the row lock.
        var first = new[] { Claim(busyClient, busy, 0), Claim(busyClient, busy, 1) };
        var until = DateTime.UtcNow.AddSeconds(30);
        while (gate.InUse(busy.Id) < 2)
        {
            Assert.True(DateTime.UtcNow < until, "the first two claims did not take the clinic's turns");
            await Task.Delay(20);
        }

        // Two more: one waits its turn, the other finds the queue full and is refused at once.
        var more = new[] { Claim(busyClient, busy, 2), Claim(busyClient, busy, 3) };
        var refused = await Task.WhenAny(more.Append(Task.Delay(TimeSpan.FromSeconds(30)).ContinueWith(_ => (HttpResponseMessage)null!)));
        var r = await refused;
        Assert.NotNull(r);
        Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Problems.TooManyRequests, (await r.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("type").GetString());
        Assert.Equal(TimeSpan.FromSeconds(1), r.Headers.RetryAfter?.Delta);

        // Meanwhile another clinic is served as usual.
        var served = await TestClinic.Json(await Claim(otherClient, other, 0));
        Assert.True(served.GetProperty("success").GetBoolean());

        await tx.RollbackAsync();
        var outcomes = (await Task.WhenAll(first.Concat(more.Where(t => t != refused)))).Select(x => (int)x.StatusCode).Order().ToList();
        Assert.Equal([200, 409, 409], outcomes);
    }

    [Fact]
    public async Task A_session_opened_inside_another_of_the_same_request_does_not_wait_for_the_turn_its_request_holds()
    {
        // One turn per clinic: a knowledge lookup inside a tool call's transaction needs a second session.
        await using var app = TestApp.Factory.WithWebHostBuilder(b =>
        {
            b.UseSetting("Database:PerClinicConnections", "1");
            b.UseSetting("Database:PerClinicWaitMilliseconds", "60000");
        });
        var (clinicId, secret) = await Frontdesk.Tests.Knowledge.KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        using (var admin = TestApp.As(clinicId))
            await TestClinic.Json(await admin.PostAsJsonAsync($"/api/clinics/{clinicId}/knowledge/documents",
                new { title = "Prices", source = "prices.md", content = "# Prices\n\nRhinoplasty (nose job) costs £6,500." }));

        using var vapi = app.CreateClient();
        vapi.DefaultRequestHeaders.Add("X-Vapi-Secret", secret);
        var message = System.Text.Json.JsonSerializer.Serialize(new
        {
            message = new
            {
                type = "tool-calls",
                call = new { id = "call-" + Guid.NewGuid().ToString("N") },
                toolCallList = new[] { new { id = "tc-1", type = "function", function = new { name = "lookup_knowledge", arguments = new { question = "how much is a nose job" } } } },
            },
        });
        var call = vapi.PostAsync("/vapi/webhook", new StringContent(message, System.Text.Encoding.UTF8, "application/json"));
        Assert.Same(call, await Task.WhenAny(call, Task.Delay(TimeSpan.FromSeconds(30))));
        var body = await TestClinic.Json(await call);
        Assert.Contains("£6,500", body.GetProperty("results")[0].GetProperty("result").GetString());
    }

    [Fact]
    public void The_share_is_sized_from_the_pool()
    {
        var gate = ClinicGate.FromPool(150, new ClinicGateOptions());
        Assert.Equal(9, gate.PermitsPerClinic);
        Assert.Equal(600, gate.QueuePerClinic);
        Assert.Equal(4, ClinicGate.FromPool(5, new ClinicGateOptions()).PermitsPerClinic);
        Assert.Equal(7, ClinicGate.FromPool(150, new ClinicGateOptions { PerClinicConnections = 7 }).PermitsPerClinic);
    }
}
