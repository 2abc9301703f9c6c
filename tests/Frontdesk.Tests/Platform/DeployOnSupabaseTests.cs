using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tenancy;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Frontdesk.Tests.Platform;

/// <summary>README "Deploy on Supabase", step by step, on a fresh Supabase-shaped project database:
/// `supabase db push`, `-- app-login --password-stdin`, then the service in Production with the two
/// URLs. Nothing copied by hand between the migration histories.</summary>
public class DeployOnSupabaseTests
{
    const string JwtSecret = "deploy-test-jwt-secret-that-is-long-enough-0123456789";

    static string Url(TestDatabase db, string user, string password)
    {
        var csb = new NpgsqlConnectionStringBuilder(db.AdminConnectionString);
        return $"postgres://{user}:{Uri.EscapeDataString(password)}@127.0.0.1:{csb.Port}/{csb.Database}";
    }

    [Fact]
    public async Task Right_after_db_push_the_service_is_healthy_and_keeps_clinics_apart()
    {
        var db = await SupabaseCluster.NewProjectAsync($"deploy_{Guid.NewGuid():N}");

        // `-- migrate` after a push: every version is in the CLI's history, so nothing to do.
        Assert.Equal(0, await Commands.MigrateAsync(["migrate", "--FRONTDESK_DATABASE_URL", Url(db, "postgres", SupabaseCluster.PostgresPassword)]));
        await using (var conn = new NpgsqlConnection(db.AdminConnectionString))
        {
            await conn.OpenAsync();
            await using var ours = new NpgsqlCommand("select count(*) from frontdesk.schema_migrations", conn);
            Assert.Equal(0L, (long)(await ours.ExecuteScalarAsync())!);
        }

        await AssertServiceWorksAsync(Url(db, "postgres", SupabaseCluster.PostgresPassword), Url(db, "frontdesk_app", SupabaseCluster.AppPassword));
    }

    /// <summary>README step 3 as written: requests through a transaction pooler (Supabase's port 6543)
    /// with MaxAutoPrepare=0. The pooler has one server connection, so clinic A's and clinic B's
    /// transactions take turns on it — a setting that outlived its transaction would show here.</summary>
    [Fact]
    public async Task Through_a_transaction_pooler_the_service_works_and_no_request_sees_another_clinic()
    {
        var db = await SupabaseCluster.NewProjectAsync($"pooled_{Guid.NewGuid():N}");
        await using var pooler = await TransactionPooler.StartAsync(SupabaseCluster.Port, SupabaseCluster.SuperuserConnectionString, "frontdesk_app");
        var database = new NpgsqlConnectionStringBuilder(db.AdminConnectionString).Database;
        var appUrl = $"postgres://frontdesk_app:{Uri.EscapeDataString(SupabaseCluster.AppPassword)}@127.0.0.1:{pooler.Port}/{database}?MaxAutoPrepare=0";
        await AssertServiceWorksAsync(Url(db, "postgres", SupabaseCluster.PostgresPassword), appUrl, rounds: 20);
    }

    static async Task AssertServiceWorksAsync(string ownerUrl, string appUrl, int rounds = 1)
    {
        await using var app = Frontdesk.FrontdeskApp.Build(["--environment", "Production"], b =>
        {
            b.WebHost.UseUrls("http://127.0.0.1:0");
            b.Logging.ClearProviders();
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["FRONTDESK_DATABASE_URL"] = ownerUrl,
                ["FRONTDESK_APP_DATABASE_URL"] = appUrl,
                ["FRONTDESK_JWT_SECRET"] = JwtSecret,
                ["FRONTDESK_MASTER_KEY"] = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)(i * 11 + 3)).ToArray()),
                ["FRONTDESK_DATA_DIR"] = Path.Combine(Path.GetTempPath(), $"frontdesk-deploy-{Guid.NewGuid():N}"),
            });
        });
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };

        var health = await http.GetAsync("/healthz");
        var healthBody = await health.Content.ReadAsStringAsync();
        Assert.True(health.StatusCode == HttpStatusCode.OK, healthBody);
        Assert.Equal("ok", JsonDocument.Parse(healthBody).RootElement.GetProperty("status").GetString());

        var secret = Auth.SecretBytes(JwtSecret);
        string Token(RequestClaims claims) => Auth.Mint(secret, claims, TimeSpan.FromMinutes(10));
        HttpRequestMessage As(RequestClaims claims, HttpMethod method, string path, object? body = null)
        {
            var m = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
            m.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token(claims));
            return m;
        }

        var service = new RequestClaims(RequestClaims.ServiceRole, null, "deploy-test", null);
        var created = await http.SendAsync(As(service, HttpMethod.Post, "/api/clinics", new { name = "Deployed Clinic", timezone = "Europe/London" }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var clinicId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var otherId = (await (await http.SendAsync(As(service, HttpMethod.Post, "/api/clinics", new { name = "Other Clinic" })))
            .Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();

        for (var round = 0; round < rounds; round++)
        {
            var own = await http.SendAsync(As(RequestClaims.ForClinic(clinicId, "deploy-admin", "admin"), HttpMethod.Get, $"/api/clinics/{clinicId}"));
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
            Assert.Equal("Deployed Clinic", (await own.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("name").GetString());

            var foreign = await http.SendAsync(As(RequestClaims.ForClinic(otherId, "other-admin", "admin"), HttpMethod.Get, $"/api/clinics/{clinicId}"));
            Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
            var problem = await foreign.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("https://frontdesk.dev/problems/cross-tenant", problem.GetProperty("type").GetString());
            Assert.DoesNotContain("Deployed Clinic", problem.GetRawText(), StringComparison.Ordinal);

            // The other clinic's own view, on the same server connection right after: only itself.
            var data = await http.SendAsync(As(RequestClaims.ForClinic(otherId, "other-admin", "admin"), HttpMethod.Get, "/functions/v1/get_clinic_data"));
            Assert.Equal(HttpStatusCode.OK, data.StatusCode);
            Assert.Equal(otherId, (await data.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("clinic").GetProperty("id").GetGuid());
        }
        await app.StopAsync();
    }

    [Fact]
    public async Task Migrate_first_then_db_push_applies_nothing_twice()
    {
        var db = await SupabaseCluster.NewProjectAsync($"migrate_first_{Guid.NewGuid():N}", deploy: false);
        Assert.Equal(0, await Commands.MigrateAsync(["migrate", "--FRONTDESK_DATABASE_URL", db.AdminConnectionString]));
        // On a Supabase database the migrator also writes the CLI's history, the way the CLI does.
        Assert.Empty(await SupabaseDbPush.PushAsync(db.AdminConnectionString, SupabaseCluster.MigrationsDir));
        await using var conn = new NpgsqlConnection(db.AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("select count(*) from supabase_migrations.schema_migrations where name <> '' and cardinality(statements) = 1", conn);
        Assert.Equal((long)Migrator.Embedded.Count, (long)(await cmd.ExecuteScalarAsync())!);
    }
}
