using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Frontdesk.Tests.Platform;

/// <summary>`-- migrate`, `-- rotate-keys` and `-- app-login` as an operator runs them, and the checks
/// that stop a misconfigured start before anything runs.</summary>
public class OperatorCommandTests
{
    static Task<string> NewBareDatabaseAsync(string prefix) => TestCluster.NewDatabaseAsync(prefix, migrated: false);

    [Fact]
    public async Task Migrate_exits_0_when_it_applied_everything_and_again_when_there_is_nothing_to_do()
    {
        var db = await NewBareDatabaseAsync("migrate");
        // Regression: it used to check through the unprivileged app login, read "permission denied" as
        // "everything pending", and exit 1 after a successful run.
        Assert.Equal(0, await Commands.MigrateAsync(["migrate", "--FRONTDESK_DATABASE_URL", db]));
        Assert.Equal(0, await Commands.MigrateAsync(["migrate", "--FRONTDESK_DATABASE_URL", db]));
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        Assert.Empty(await Migrator.PendingAsync(conn, default));
        // A bare PostgreSQL keeps only Frontdesk's history: no Supabase schema appears there.
        await using var cli = new NpgsqlCommand("select to_regnamespace('supabase_migrations') is null", conn);
        Assert.True((bool)(await cli.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Migrate_reports_a_database_it_cannot_reach_in_one_line_and_exits_1()
    {
        var unreachable = new NpgsqlConnectionStringBuilder(await TestCluster.AdminConnectionStringAsync()) { Database = $"missing_{Guid.NewGuid():N}" }.ConnectionString;
        Assert.Equal(1, await Commands.MigrateAsync(["migrate", "--FRONTDESK_DATABASE_URL", unreachable]));
    }

    [Fact]
    public async Task Health_counts_a_migration_recorded_only_by_the_Supabase_CLI_as_applied()
    {
        var db = await NewBareDatabaseAsync("history");
        await SupabaseDbPush.PushAsync(db, SupabaseCluster.MigrationsDir);
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        await using (var tx = await conn.BeginTransactionAsync())
        {
            // As /healthz reads it: service_role, through frontdesk.applied_migrations().
            await using (var role = new NpgsqlCommand("set local role service_role", conn, tx)) await role.ExecuteNonQueryAsync();
            Assert.Empty(await Migrator.PendingAsync(conn, default));
        }
        await using var ours = new NpgsqlCommand("select count(*) from frontdesk.schema_migrations", conn);
        Assert.Equal(0L, (long)(await ours.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task App_login_stores_a_scram_verifier_computed_client_side()
    {
        var admin = await TestCluster.AdminConnectionStringAsync();
        const string password = "correct-horse-battery-staple-42";
        Assert.Equal(0, await Commands.AppLoginAsync(["app-login", Commands.PasswordStdin, "--FRONTDESK_DATABASE_URL", admin], new StringReader(password + "\n")));
        var stored = await TestApp.ScalarAsync<string>("select rolpassword from pg_authid where rolname = 'frontdesk_app'");
        Assert.StartsWith("SCRAM-SHA-256$4096:", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(password, stored!, StringComparison.Ordinal);
        // Same password, new salt: the verifier differs every time.
        Assert.NotEqual(Commands.ScramVerifier(password), Commands.ScramVerifier(password));
    }

    [Theory]
    [InlineData("short")]
    [InlineData("a password with spaces in it")]
    [InlineData("pässwörd-with-umlauts-0123")]
    [InlineData("")]
    public async Task App_login_refuses_a_weak_or_non_ascii_password_and_changes_nothing(string password)
    {
        var admin = await TestCluster.AdminConnectionStringAsync();
        var before = await TestApp.ScalarAsync<string>("select coalesce(rolpassword, '') from pg_authid where rolname = 'frontdesk_app'");
        Assert.Equal(1, await Commands.AppLoginAsync(["app-login", Commands.PasswordStdin, "--FRONTDESK_DATABASE_URL", admin], new StringReader(password)));
        Assert.Equal(before, await TestApp.ScalarAsync<string>("select coalesce(rolpassword, '') from pg_authid where rolname = 'frontdesk_app'"));
    }

    [Fact]
    public async Task App_login_without_password_stdin_prints_its_usage_and_exits_1() =>
        Assert.Equal(1, await Commands.AppLoginAsync(["app-login"], new StringReader("never-read-0123456789")));

    /// <summary>Starts the whole service in <paramref name="environment"/> on the bare cluster with every
    /// setting right except <paramref name="missing"/>, and returns why it refused to start.</summary>
    static async Task<string> StartFailureAsync(string missing, string environment = "Production")
    {
        var settings = new Dictionary<string, string?>
        {
            ["FRONTDESK_DATABASE_URL"] = TestCluster.AdminConnectionString,
            ["FRONTDESK_APP_DATABASE_URL"] = TestCluster.AppConnectionString,
            ["FRONTDESK_MIGRATE_ON_START"] = "false",
            ["FRONTDESK_JWT_SECRET"] = FrontdeskFactory.JwtSecret,
            ["FRONTDESK_MASTER_KEY"] = FrontdeskFactory.MasterKey,
            ["FRONTDESK_DATA_DIR"] = TestApp.Factory.DataDir,
            [missing] = "",
        };
        var e = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var app = Frontdesk.FrontdeskApp.Build(["--environment", environment], b =>
            {
                b.WebHost.UseUrls("http://127.0.0.1:0");
                b.Logging.ClearProviders();
                b.Configuration.AddInMemoryCollection(settings);
            });
            await app.StartAsync();
        });
        return StartupException.Describe(e) ?? e.ToString();
    }

    [Fact]
    public async Task Outside_Development_a_missing_master_key_stops_the_start() =>
        // Regression: it used to start and fail at the first patient-data request.
        Assert.Contains("FRONTDESK_MASTER_KEY is required", await StartFailureAsync("FRONTDESK_MASTER_KEY"), StringComparison.Ordinal);

    [Fact]
    public async Task Outside_Development_a_missing_jwt_secret_stops_the_start() =>
        Assert.Contains("FRONTDESK_JWT_SECRET is required", await StartFailureAsync("FRONTDESK_JWT_SECRET"), StringComparison.Ordinal);

    [Fact]
    public async Task A_database_url_without_an_app_login_url_stops_the_start_even_in_development() =>
        Assert.Contains("FRONTDESK_APP_DATABASE_URL is required", await StartFailureAsync("FRONTDESK_APP_DATABASE_URL", "Development"), StringComparison.Ordinal);

    /// <summary>Issue 12 (5): an operator's command beside a server on the embedded default must not stop
    /// the server's database; a command that had to start the cluster stops it again.</summary>
    [Fact]
    public async Task Commands_leave_a_running_private_cluster_running_and_stop_one_they_started()
    {
        var dataDir = Path.Combine("/tmp", $"frontdesk-test-{Environment.ProcessId}", $"cmd-{Guid.NewGuid():N}"[..12]);
        Directory.CreateDirectory(dataDir);
        var cluster = LocalPostgres.ForDataDir(dataDir);
        try
        {
            Assert.Equal(0, await Commands.MigrateAsync(["migrate", "--FRONTDESK_DATA_DIR", dataDir]));
            Assert.False(await cluster.IsRunningAsync(default), "migrate started the cluster and must stop it");

            Assert.True(await cluster.StartAsync(durable: false, default)); // the server's start
            Assert.Equal(0, await Commands.MigrateAsync(["migrate", "--FRONTDESK_DATA_DIR", dataDir]));
            Assert.True(await cluster.IsRunningAsync(default), "migrate stopped a cluster it did not start");
            Assert.Equal(0, await Commands.RotateKeysAsync(["--FRONTDESK_DATA_DIR", dataDir]));
            Assert.True(await cluster.IsRunningAsync(default), "rotate-keys stopped a cluster it did not start");
        }
        finally
        {
            await cluster.StopAsync();
            try { Directory.Delete(dataDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
