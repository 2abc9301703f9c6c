using System.Diagnostics;
using System.Globalization;
using Frontdesk.Platform;
using Npgsql;

namespace Frontdesk.Bench;

/// <summary>
/// Issue 2's benchmark: authenticated point reads through the API at 100 concurrent, and the same
/// point read through the tenant transaction vs. a plain unscoped query, in one run. Issue 16 splits
/// the gap: pgbench with the same statements (the tenant context and the read in one pipeline, vs.
/// the read alone) is the database's share; the raw Npgsql batch is the driver's; the difference to
/// <see cref="Db.QueryOnceAsync{T}"/> is ours. Args: [--seconds 10] [--workers 32] [--no-api].
/// </summary>
public sealed class LoadTenantRead : IBenchCommand
{
    public string Name => "load tenant-read";
    public string Summary => "100 concurrent authenticated point reads via the API; scoped/unscoped DB ratio, split into database, driver and our share";

    const string ReadSql = "select id, status from bookings where id = $1";

    public async Task<int> RunAsync(string[] args)
    {
        var seconds = args.SkipWhile(a => a != "--seconds").Skip(1).Select(s => double.Parse(s, CultureInfo.InvariantCulture)).FirstOrDefault(10);
        var workers = args.SkipWhile(a => a != "--workers").Skip(1).Select(int.Parse).FirstOrDefault(32);
        await using var host = await BenchHost.StartAsync();
        var (clinic, _, slots, patients) = await host.SeedClinicAsync(slots: 20, patients: 20);
        var token = BenchHost.Token(RequestClaims.ForClinic(clinic, "bench-reader", "receptionist"));
        var bookings = new List<Guid>();
        using (var c = host.Client(token))
            for (var i = 0; i < 20; i++)
                bookings.Add((await BenchHost.Json(await System.Net.Http.Json.HttpClientJsonExtensions.PostAsJsonAsync(c,
                    "/functions/v1/claim_slot_atomic", new { slotId = slots[i], patientId = patients[i], clinicId = clinic }))).GetProperty("bookingId").GetGuid());
        await host.Cluster.AnalyzeAsync();
        Console.WriteLine($"load average at start: {LoadAverage()}");

        if (!args.Contains("--no-api"))
        {
            // Warm-up, then 100 concurrent clients through HTTP.
            using var client = host.Client(token, maxConnections: 100);
            await Samples.RunAsync(16, TimeSpan.FromSeconds(2), 5000, async i => (await client.GetAsync($"/api/bookings/{clinic}/{bookings[i % 20]}")).EnsureSuccessStatusCode());
            var (api, apiRps) = await Samples.RunAsync(100, TimeSpan.FromSeconds(seconds), int.MaxValue, async i =>
            {
                using var r = await client.GetAsync($"/api/bookings/{clinic}/{bookings[i % 20]}");
                r.EnsureSuccessStatusCode();
            });
            Console.WriteLine($"API  GET /api/bookings/{{clinic}}/{{id}} at 100 concurrent: {api.Summary()} · {apiRps:F0} req/s");
        }

        var claims = RequestClaims.ForClinic(clinic, "bench-reader", "receptionist");
        var db = host.Db;
        await using var plain = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(host.AdminConnectionString) { Pooling = true, MaxPoolSize = 64, NoResetOnClose = true, MaxAutoPrepare = 256, AutoPrepareMinUsages = 2 }.ConnectionString);
        var app = host.App.Services.GetService(typeof(NpgsqlDataSource)) as NpgsqlDataSource ?? throw new InvalidOperationException("no data source");

        async Task Unscoped(int i)
        {
            await using var conn = await plain.OpenConnectionAsync();
            await using var cmd = new NpgsqlCommand(ReadSql, conn);
            cmd.Parameters.Add(new NpgsqlParameter { Value = bookings[i % 20] });
            await using var r = await cmd.ExecuteReaderAsync();
            if (!await r.ReadAsync()) throw new InvalidOperationException("plain read found nothing");
        }
        // The tenant context and the read in one batch on the app's pool, straight on Npgsql: what
        // Db.QueryOnceAsync sends, without anything of ours around it.
        var claimsJson = claims.ToJson();
        async Task RawScoped(int i)
        {
            await using var conn = await app.OpenConnectionAsync();
            await using var batch = new NpgsqlBatch(conn)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand("select set_config('request.jwt.claims', $1, true), set_config('role', $2, true)")
                        { Parameters = { new() { Value = claimsJson }, new() { Value = RequestClaims.Authenticated } } },
                    new NpgsqlBatchCommand(ReadSql) { Parameters = { new() { Value = bookings[i % 20] } } },
                },
            };
            await using var r = await batch.ExecuteReaderAsync();
            await r.NextResultAsync();
            if (!await r.ReadAsync()) throw new InvalidOperationException("raw scoped read found nothing");
        }
        async Task Scoped(int i)
        {
            var rows = await db.QueryOnceAsync<(Guid, string)>(claims, "select id, status from bookings where id = @Id", new { Id = bookings[i % 20] }, CancellationToken.None);
            if (rows.Count != 1) throw new InvalidOperationException("scoped read found nothing");
        }

        Console.WriteLine($"app pool: {PoolStats(host)}");
        if (!args.Contains("--no-api"))
        {
            // The procedure behind the 0.32 of issue 16: scoped measured first, straight after the API
            // burst, then unscoped. Whatever runs first after the burst is slower (the process is still
            // settling: threads, GC, connections), so this ratio mostly measures the order.
            var (_, first) = await Samples.RunAsync(workers, TimeSpan.FromSeconds(seconds / 2), int.MaxValue, Scoped);
            var (_, second) = await Samples.RunAsync(workers, TimeSpan.FromSeconds(seconds / 2), int.MaxValue, Unscoped);
            Console.WriteLine($"in the issue's order (scoped first, right after the API burst): {first:F0} vs {second:F0} tps → {first / second:F2}");
        }
        // Warm every path (pools, prepared statements), then measure them interleaved, twice, so a
        // change in the machine's load hits all of them alike; the better of the two rounds counts.
        foreach (var warm in new Func<int, Task>[] { Unscoped, RawScoped, Scoped })
            await Samples.RunAsync(workers, TimeSpan.FromSeconds(1), int.MaxValue, warm);
        var best = new Dictionary<string, double>();
        var summaries = new Dictionary<string, string>();
        for (var round = 0; round < 2; round++)
            foreach (var (name, op) in new (string, Func<int, Task>)[] { ("unscoped", Unscoped), ("raw scoped", RawScoped), ("scoped", Scoped) })
            {
                var (samples, tps) = await Samples.RunAsync(workers, TimeSpan.FromSeconds(seconds / 2), int.MaxValue, op);
                if (tps > best.GetValueOrDefault(name)) { best[name] = tps; summaries[name] = samples.Summary(); }
            }
        Console.WriteLine($"DB   unscoped (plain query, superuser)     {workers} workers: {summaries["unscoped"]} · {best["unscoped"]:F0} tps");
        Console.WriteLine($"DB   raw scoped (Npgsql batch, app login)  {workers} workers: {summaries["raw scoped"]} · {best["raw scoped"]:F0} tps");
        Console.WriteLine($"DB   scoped (Db.QueryOnceAsync)            {workers} workers: {summaries["scoped"]} · {best["scoped"]:F0} tps");
        Console.WriteLine($"ratio scoped/unscoped throughput: {best["scoped"] / best["unscoped"]:F2}   (raw Npgsql batch/unscoped {best["raw scoped"] / best["unscoped"]:F2}; ours: scoped/raw {best["scoped"] / best["raw scoped"]:F2})");

        var pg = await PgbenchAsync(host, clinic, bookings[0], workers, seconds);
        if (pg is var (unscopedTps, scopedTps))
            Console.WriteLine($"pgbench (the database's share, same statements, -M prepared, {workers} clients): unscoped {unscopedTps:F0} tps, " +
                              $"context + read in one pipeline {scopedTps:F0} tps → ratio {scopedTps / unscopedTps:F2}");
        Console.WriteLine($"load average at end: {LoadAverage()}");
        return 0;
    }

    /// <summary>pgbench against the bench cluster: the read alone as the superuser vs. the tenant
    /// context and the read in one pipeline (one round trip, one implicit transaction) as the app
    /// login — what the database itself does for each, with no .NET in the path. Null when pgbench is missing.</summary>
    static async Task<(double Unscoped, double Scoped)?> PgbenchAsync(BenchHost host, Guid clinic, Guid booking, int clients, double seconds)
    {
        var admin = new NpgsqlConnectionStringBuilder(host.AdminConnectionString);
        var dir = Path.Combine(host.Cluster.Dir, "pgbench");
        Directory.CreateDirectory(dir);
        var claims = RequestClaims.ForClinic(clinic, "bench-reader", "receptionist").ToJson().Replace("'", "''", StringComparison.Ordinal);
        await File.WriteAllTextAsync(Path.Combine(dir, "unscoped.sql"), $"select id, status from bookings where id = '{booking}';\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "scoped.sql"), $"""
            \startpipeline
            select set_config('request.jwt.claims', '{claims}', true), set_config('role', 'authenticated', true);
            select id, status from bookings where id = '{booking}';
            \endpipeline

            """);
        async Task<double?> Run(string user, string script)
        {
            var psi = new ProcessStartInfo("pgbench") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "-h", admin.Host!, "-U", user, "-n", "-M", "prepared", "-c", clients.ToString(CultureInfo.InvariantCulture),
                         "-j", "2", "-T", Math.Max(1, (int)(seconds / 2)).ToString(CultureInfo.InvariantCulture), "-f", Path.Combine(dir, script), admin.Database! })
                psi.ArgumentList.Add(a);
            try
            {
                using var p = Process.Start(psi)!;
                var output = await p.StandardOutput.ReadToEndAsync() + await p.StandardError.ReadToEndAsync();
                await p.WaitForExitAsync();
                var m = System.Text.RegularExpressions.Regex.Match(output, @"tps = ([0-9.]+)");
                if (!m.Success) Console.WriteLine("pgbench output:\n" + output);
                return m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return null;
            }
        }
        double bestUnscoped = 0, bestScoped = 0;
        for (var round = 0; round < 2; round++)
        {
            if (await Run(admin.Username!, "unscoped.sql") is not { } u || await Run("frontdesk_app", "scoped.sql") is not { } s)
            {
                Console.WriteLine("pgbench: not found or failed (apt-get install postgresql-client); the database's share was not measured");
                return null;
            }
            bestUnscoped = Math.Max(bestUnscoped, u);
            bestScoped = Math.Max(bestScoped, s);
        }
        return (bestUnscoped, bestScoped);
    }

    static string PoolStats(BenchHost host)
    {
        using var conn = new NpgsqlConnection(host.AdminConnectionString);
        conn.Open();
        using var cmd = new NpgsqlCommand("select count(*) from pg_stat_activity where usename = 'frontdesk_app'", conn);
        return $"{cmd.ExecuteScalar()} backends of the app login";
    }

    internal static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
