using Frontdesk.Platform;

namespace Frontdesk.Tests.Infrastructure;

/// <summary>
/// One throwaway PostgreSQL cluster per test run, started with the same code the server uses
/// (or FRONTDESK_TEST_DATABASE_URL when set). Never skipped: if PostgreSQL is missing, every
/// database test fails with the install command.
/// </summary>
public static class TestCluster
{
    static readonly Lazy<Task<TestDatabase>> Started = new(StartAsync);

    public static Task<TestDatabase> DatabaseAsync() => Started.Value;

    public static async Task<string> AdminConnectionStringAsync() => (await Started.Value).AdminConnectionString;

    public static string AdminConnectionString => Started.Value.GetAwaiter().GetResult().AdminConnectionString;

    /// <summary>The request-path login (frontdesk_app) on the same database.</summary>
    public static string AppConnectionString => Started.Value.GetAwaiter().GetResult().AppConnectionString;

    /// <summary>A new database of a test's own on the same cluster (<paramref name="prefix"/>_&lt;guid&gt;), migrated
    /// unless <paramref name="migrated"/> is false: for tests whose instances must be the only workers on their
    /// data, or that take the database away. Returns its owner connection string.</summary>
    public static async Task<string> NewDatabaseAsync(string prefix, bool migrated = true)
    {
        var admin = await AdminConnectionStringAsync();
        var name = $"{prefix}_{Guid.NewGuid():N}";
        await using (var conn = new Npgsql.NpgsqlConnection(new Npgsql.NpgsqlConnectionStringBuilder(admin) { Database = "postgres" }.ConnectionString))
        {
            await conn.OpenAsync();
            await using var cmd = new Npgsql.NpgsqlCommand($"create database {name}", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        var own = new Npgsql.NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
        if (migrated) await Migrator.ApplyAsync(own, CancellationToken.None);
        return own;
    }

    static readonly List<(LocalPostgres Cluster, string Dir)> Throwaway = [];

    /// <summary>Stops a throwaway cluster and removes its folder when the test host exits. One handler
    /// for all of them, stopping them at once: a test host gets little time to exit, and a second
    /// handler queued behind a slow first one may never run (SweepStale catches what is left).</summary>
    public static void StopAtExit(LocalPostgres cluster, string dir)
    {
        lock (Throwaway)
        {
            if (Throwaway.Count == 0)
                AppDomain.CurrentDomain.ProcessExit += (_, _) =>
                {
                    (LocalPostgres Cluster, string Dir)[] all;
                    lock (Throwaway) all = [.. Throwaway];
                    Task.WaitAll(all.Select(t => t.Cluster.StopAsync(immediate: true)));
                    foreach (var (_, d) in all)
                        try { Directory.Delete(d, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
                };
            Throwaway.Add((cluster, dir));
        }
    }

    static async Task<TestDatabase> StartAsync()
    {
        var external = Environment.GetEnvironmentVariable("FRONTDESK_TEST_DATABASE_URL");
        string admin, app;
        if (!string.IsNullOrWhiteSpace(external))
        {
            admin = DatabaseHost.ToConnectionString(external);
            // frontdesk_app on the same server unless given (it has no password until `-- app-login`).
            var appUrl = Environment.GetEnvironmentVariable("FRONTDESK_TEST_APP_DATABASE_URL");
            app = string.IsNullOrWhiteSpace(appUrl)
                ? new Npgsql.NpgsqlConnectionStringBuilder(admin) { Username = "frontdesk_app", Password = null, Pooling = true }.ConnectionString
                : DatabaseHost.ToConnectionString(appUrl);
        }
        else
        {
            LocalPostgres.SweepStale("frontdesk-test-");
            var dir = Path.Combine("/tmp", $"frontdesk-test-{Environment.ProcessId}");
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.CreateDirectory(dir);
            var pg = LocalPostgres.For(Path.Combine(dir, "pg"));
            await pg.StartAsync(durable: false, CancellationToken.None);
            StopAtExit(pg, dir);
            admin = pg.AdminConnectionString();
            app = pg.AppConnectionString();
        }
        await Migrator.ApplyAsync(admin, CancellationToken.None);
        return new TestDatabase("bare", admin, app);
    }
}
