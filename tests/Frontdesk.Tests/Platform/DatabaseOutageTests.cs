using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Privacy;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Frontdesk.Tests.Platform;

/// <summary>
/// The database going away under a running instance (a restart, a failover, a partition): requests
/// get a 503 problem a client can retry, never a 500 with internals; /healthz says unavailable; the
/// background workers outlive it; and the same instance serves again when it returns.
/// </summary>
public class DatabaseOutageTests
{
    static async Task<JsonElement> ProblemAsync(HttpResponseMessage r, HttpStatusCode status, string type)
    {
        Assert.Equal(status, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        var body = await r.Content.ReadAsStringAsync();
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        Assert.DoesNotContain("Npgsql", body, StringComparison.Ordinal);
        var p = JsonDocument.Parse(body).RootElement.Clone();
        Assert.Equal(type, p.GetProperty("type").GetString());
        return p;
    }

    /// <summary>A fresh, migrated database of this test's own: the instance whose database goes away
    /// must not have claimed other tests' jobs from the shared one (they would sit 'processing' until
    /// their lease ran out).</summary>
    static async Task<string> OwnDatabaseAsync() =>
        new NpgsqlConnectionStringBuilder(await TestCluster.NewDatabaseAsync("frontdesk_outage")).Database!;

    [Fact]
    public async Task While_the_database_is_unreachable_requests_get_503_unavailable_and_the_instance_recovers_when_it_returns()
    {
        var name = await OwnDatabaseAsync();
        var appUrl = new NpgsqlConnectionStringBuilder(TestCluster.AppConnectionString) { Database = name }.ConnectionString;
        await using var database = DatabaseSwitch.Start(appUrl);
        await using var app = new FrontdeskFactory().WithWebHostBuilder(b =>
        {
            b.UseSetting("FRONTDESK_DATABASE_URL", new NpgsqlConnectionStringBuilder(TestCluster.AdminConnectionString) { Database = name }.ConnectionString);
            b.UseSetting("FRONTDESK_APP_DATABASE_URL", database.Through(appUrl));
        });
        using var service = app.CreateClient();
        service.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.ServiceToken());
        var clinicId = (await TestClinic.Json(await service.PostAsJsonAsync("/api/clinics", new { name = "Outage Clinic", timezone = "Europe/London" })))
            .GetProperty("id").GetGuid();
        using var admin = app.CreateClient();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.Token(RequestClaims.ForClinic(clinicId, "outage-admin", "admin")));
        var patientId = (await TestClinic.Json(await admin.PostAsJsonAsync($"/api/clinics/{clinicId}/patients", new { name = "Olive Outage", phone = Frontdesk.Tests.Calls.TwilioFixture.NewPhone() })))
            .GetProperty("id").GetGuid();
        var patient = $"/api/patients/{clinicId}/{patientId}";
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(patient)).StatusCode);

        database.Off();
        var failed = await ProblemAsync(await admin.GetAsync(patient), HttpStatusCode.ServiceUnavailable, Problems.Unavailable);
        Assert.Equal("The database is unavailable", failed.GetProperty("title").GetString());
        Assert.False(string.IsNullOrEmpty(failed.GetProperty("traceId").GetString()));
        using var anonymous = app.CreateClient();
        var down = await anonymous.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        var health = JsonDocument.Parse(await down.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("unavailable", health.GetProperty("status").GetString());
        Assert.False(health.GetProperty("database").GetBoolean());
        // A worker pass that fails is reported, not fatal.
        var retention = app.Services.GetRequiredService<RetentionWorker>();
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => retention.RunOnceAsync(CancellationToken.None));

        database.On();
        var until = DateTime.UtcNow.AddSeconds(60);
        HttpStatusCode status;
        while ((status = (await admin.GetAsync(patient)).StatusCode) != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < until, $"still {(int)status} after the database returned");
            await Task.Delay(200);
        }
        Assert.Equal("ok", (await TestClinic.Json(await anonymous.GetAsync("/healthz"))).GetProperty("status").GetString());
        await retention.RunOnceAsync(CancellationToken.None);
        Assert.StartsWith("ok: last pass", retention.Health(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Healthz_answers_503_and_lists_what_is_pending_on_a_database_without_the_migrations()
    {
        // A fresh database the app login can reach, where nobody ran `-- migrate`.
        var admin = await TestCluster.AdminConnectionStringAsync();
        var name = $"frontdesk_unmigrated_{Guid.NewGuid():N}";
        await using (var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(admin) { Database = "postgres" }.ConnectionString))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"create database {name}", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        await using var app = new FrontdeskFactory().WithWebHostBuilder(b =>
        {
            b.UseSetting("FRONTDESK_DATABASE_URL", new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString);
            b.UseSetting("FRONTDESK_APP_DATABASE_URL", new NpgsqlConnectionStringBuilder(TestCluster.AppConnectionString) { Database = name }.ConnectionString);
        });
        using var client = app.CreateClient();
        var r = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
        var health = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("migrations pending", health.GetProperty("status").GetString());
        Assert.True(health.GetProperty("database").GetBoolean());
        var pending = health.GetProperty("pendingMigrations").EnumerateArray().Select(v => v.GetString()).ToList();
        Assert.Equal(Migrator.Embedded.Select(m => m.Version), pending);
        Assert.Contains(pending, v => v!.EndsWith("_least_privilege", StringComparison.Ordinal));
    }
}
