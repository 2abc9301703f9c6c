using Frontdesk.Platform;

namespace Frontdesk.Tests.Infrastructure;

/// <summary>
/// One throwaway PostgreSQL cluster per test run, started with the same code the server uses
/// (or FRONTDESK_TEST_DATABASE_URL when set). Never skipped: if PostgreSQL is missing, every
/// database test fails with the install command.
/// </summary>
public static class TestCluster
{
    static readonly Lazy<Task<string>> Admin = new(StartAsync);

    public static Task<string> AdminConnectionStringAsync() => Admin.Value;

    public static string AdminConnectionString => Admin.Value.GetAwaiter().GetResult();

    static async Task<string> StartAsync()
    {
        var external = Environment.GetEnvironmentVariable("FRONTDESK_TEST_DATABASE_URL");
        string admin;
        if (!string.IsNullOrWhiteSpace(external))
        {
            admin = DatabaseHost.ToConnectionString(external);
        }
        else
        {
            LocalPostgres.SweepStale("frontdesk-test-");
            var dir = Path.Combine("/tmp", $"frontdesk-test-{Environment.ProcessId}");
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.CreateDirectory(dir);
            var pg = LocalPostgres.For(Path.Combine(dir, "pg"));
            await pg.StartAsync(durable: false, CancellationToken.None);
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                pg.StopAsync().GetAwaiter().GetResult();
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            };
            admin = pg.AdminConnectionString();
        }
        await Migrator.ApplyAsync(admin, CancellationToken.None);
        return admin;
    }
}
