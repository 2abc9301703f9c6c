using Frontdesk.Platform;
using Npgsql;

namespace Frontdesk.Bench;

/// <summary>A private PostgreSQL cluster for one bench run (LocalPostgres + Migrator), removed at the end.</summary>
public sealed class BenchCluster : IAsyncDisposable
{
    readonly LocalPostgres _pg;
    readonly string _dir;

    /// <summary>The run's folder (/tmp/frontdesk-bench-{pid}): the cluster and anything else of the run.</summary>
    public string Dir => _dir;

    public string AdminConnectionString { get; }
    public string AppConnectionString { get; }
    public NpgsqlDataSource AppDataSource { get; }
    public Db Db { get; }

    BenchCluster(LocalPostgres pg, string dir, string admin, NpgsqlDataSource app)
    {
        _pg = pg;
        _dir = dir;
        AdminConnectionString = admin;
        AppConnectionString = pg.AppConnectionString();
        AppDataSource = app;
        Db = new Db(app);
    }

    /// <param name="durable">fsync and synchronous commit on, as in production (commit-path locks
    /// show only then); off by default, as for every other bench and the tests.</param>
    public static async Task<BenchCluster> StartAsync(bool durable = false)
    {
        LocalPostgres.SweepStale("frontdesk-bench-");
        var dir = Path.Combine("/tmp", $"frontdesk-bench-{Environment.ProcessId}");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        var pg = LocalPostgres.For(Path.Combine(dir, "pg"));
        await pg.StartAsync(durable, CancellationToken.None);
        var admin = pg.AdminConnectionString();
        await Migrator.ApplyAsync(admin, CancellationToken.None);
        return new BenchCluster(pg, dir, admin, DatabaseHost.BuildDataSource(pg.AppConnectionString()));
    }

    /// <summary>A clinic row made directly as the cluster's superuser: bench setup, not a request path.</summary>
    public async Task<Guid> CreateClinicAsync(string name, string? vapiSecret = null)
    {
        await using var conn = new NpgsqlConnection(AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("insert into clinics (name, vapi_secret) values ($1, $2) returning id", conn);
        cmd.Parameters.Add(new NpgsqlParameter { Value = name });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)vapiSecret ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return (Guid)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>Stops PostgreSQL (fast: open connections are cut) and starts it again on the same data.</summary>
    public async Task RestartAsync()
    {
        await _pg.StopAsync();
        await _pg.StartAsync(durable: false, CancellationToken.None);
    }

    public async Task AnalyzeAsync()
    {
        await using var conn = new NpgsqlConnection(AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("vacuum analyze", conn);
        await cmd.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (Environment.GetEnvironmentVariable("BENCH_KEEP_LOG") is { Length: > 0 } keep && File.Exists(Path.Combine(_dir, "pg", "server.log")))
            File.Copy(Path.Combine(_dir, "pg", "server.log"), keep, overwrite: true);
        await AppDataSource.DisposeAsync();
        await _pg.StopAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

public static class Percentiles
{
    public static double Of(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0) return double.NaN;
        var rank = p / 100 * (sorted.Count - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
