using Frontdesk.Platform;
using Npgsql;

namespace Frontdesk.Bench;

/// <summary>Issue 2's benchmark: authenticated point reads through the API at 100 concurrent, and the
/// same point read through the tenant transaction vs. a plain unscoped query, in one run.</summary>
public sealed class LoadTenantRead : IBenchCommand
{
    public string Name => "load tenant-read";
    public string Summary => "100 concurrent authenticated point reads via the API; scoped/unscoped DB ratio";

    public async Task<int> RunAsync(string[] args)
    {
        var seconds = args.SkipWhile(a => a != "--seconds").Skip(1).Select(double.Parse).FirstOrDefault(10);
        await using var host = await BenchHost.StartAsync();
        var (clinic, _, slots, patients) = await host.SeedClinicAsync(slots: 20, patients: 20);
        var token = BenchHost.Token(RequestClaims.ForClinic(clinic, "bench-reader", "receptionist"));
        var bookings = new List<Guid>();
        using (var c = host.Client(token))
            for (var i = 0; i < 20; i++)
                bookings.Add((await BenchHost.Json(await System.Net.Http.Json.HttpClientJsonExtensions.PostAsJsonAsync(c,
                    "/functions/v1/claim_slot_atomic", new { slotId = slots[i], patientId = patients[i], clinicId = clinic }))).GetProperty("bookingId").GetGuid());

        // Warm-up, then 100 concurrent clients through HTTP.
        using var client = host.Client(token, maxConnections: 100);
        await Samples.RunAsync(16, TimeSpan.FromSeconds(2), 5000, async i => (await client.GetAsync($"/api/bookings/{clinic}/{bookings[i % 20]}")).EnsureSuccessStatusCode());
        var (api, apiRps) = await Samples.RunAsync(100, TimeSpan.FromSeconds(seconds), int.MaxValue, async i =>
        {
            using var r = await client.GetAsync($"/api/bookings/{clinic}/{bookings[i % 20]}");
            r.EnsureSuccessStatusCode();
        });
        Console.WriteLine($"API  GET /api/bookings/{{clinic}}/{{id}} at 100 concurrent: {api.Summary()} · {apiRps:F0} req/s");

        // Same point read, tenant transaction (claims + role + select in one batch) vs plain query.
        const string Sql = "select id, status from bookings where id = @Id";
        var claims = RequestClaims.ForClinic(clinic, "bench-reader", "receptionist");
        var db = host.Db;
        await using var plain = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(host.AdminConnectionString) { Pooling = true, MaxPoolSize = 64, NoResetOnClose = true, MaxAutoPrepare = 256, AutoPrepareMinUsages = 2 }.ConnectionString);
        var workers = 32;
        var (scoped, scopedTps) = await Samples.RunAsync(workers, TimeSpan.FromSeconds(seconds), int.MaxValue, async i =>
        {
            var rows = await db.QueryOnceAsync<(Guid, string)>(claims, Sql, new { Id = bookings[i % 20] }, CancellationToken.None);
            if (rows.Count != 1) throw new InvalidOperationException("scoped read found nothing");
        });
        var (unscoped, unscopedTps) = await Samples.RunAsync(workers, TimeSpan.FromSeconds(seconds), int.MaxValue, async i =>
        {
            await using var conn = await plain.OpenConnectionAsync();
            await using var cmd = new NpgsqlCommand("select id, status from bookings where id = $1", conn);
            cmd.Parameters.AddWithValue(bookings[i % 20]);
            await using var r = await cmd.ExecuteReaderAsync();
            if (!await r.ReadAsync()) throw new InvalidOperationException("plain read found nothing");
        });
        Console.WriteLine($"DB   scoped (tenant batch)  {workers} workers: {scoped.Summary()} · {scopedTps:F0} tps");
        Console.WriteLine($"DB   unscoped (plain query) {workers} workers: {unscoped.Summary()} · {unscopedTps:F0} tps");
        Console.WriteLine($"ratio scoped/unscoped throughput: {scopedTps / unscopedTps:F2}");
        return 0;
    }
}
