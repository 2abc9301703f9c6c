using System.Net;
using System.Net.Http.Json;
using Frontdesk.Platform;
using Npgsql;

namespace Frontdesk.Bench;

/// <summary>Issue 3's benchmark: claims through HTTP at 100 concurrent (distinct slots), raw
/// claim_slot_atomic on a pool in the same run, and a hot variant (100 clients, 5 slots), with the
/// double-booking invariants checked afterwards.</summary>
public sealed class LoadClaim : IBenchCommand
{
    public string Name => "load claim";
    public string Summary => "claims via HTTP (100 concurrent, distinct and hot slots) vs raw SQL, with invariant check";

    public async Task<int> RunAsync(string[] args)
    {
        var perRun = args.SkipWhile(a => a != "--claims").Skip(1).Select(int.Parse).FirstOrDefault(4000);
        await using var host = await BenchHost.StartAsync();
        var (clinic, _, slots, patients) = await host.SeedClinicAsync(slots: perRun * 2 + 5, patients: 100);
        var token = BenchHost.Token(RequestClaims.ForClinic(clinic, "bench-claimer", "receptionist"));
        using var client = host.Client(token, maxConnections: 100);

        // Distinct slots through HTTP.
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<HttpStatusCode, int>();
        var (http, httpRate) = await Samples.RunAsync(100, TimeSpan.FromMinutes(2), perRun, async i =>
        {
            using var r = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = slots[i], patientId = patients[i % 100], clinicId = clinic });
            statuses.AddOrUpdate(r.StatusCode, 1, (_, n) => n + 1);
        });
        Console.WriteLine($"HTTP claim, 100 concurrent, distinct slots: {http.Summary()} · {httpRate:F0} claims/s · {string.Join(", ", statuses.Select(s => $"{(int)s.Key}: {s.Value}"))}");

        // Raw SQL on a plain pool, same function, distinct slots (the DB's own limit in this run).
        await using var raw = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(host.AdminConnectionString) { Pooling = true, MaxPoolSize = 64, MaxAutoPrepare = 64, AutoPrepareMinUsages = 2 }.ConnectionString);
        var (sql, sqlRate) = await Samples.RunAsync(32, TimeSpan.FromMinutes(2), perRun, async i =>
        {
            await using var conn = await raw.OpenConnectionAsync();
            await using var cmd = new NpgsqlCommand("select claim_slot_atomic($1, $2, $3)", conn);
            cmd.Parameters.AddWithValue(slots[perRun + i]);
            cmd.Parameters.AddWithValue(patients[i % 100]);
            cmd.Parameters.AddWithValue(clinic);
            await cmd.ExecuteScalarAsync();
        });
        Console.WriteLine($"raw SQL claim_slot_atomic, 32 connections: {sql.Summary()} · {sqlRate:F0} claims/s");
        Console.WriteLine($"HTTP/raw throughput: {httpRate / sqlRate:F2}");

        // Hot: 100 clients fighting over 5 slots.
        var hot = slots.Skip(perRun * 2).Take(5).ToList();
        var hotStatuses = new System.Collections.Concurrent.ConcurrentDictionary<HttpStatusCode, int>();
        var (hotSamples, hotRate) = await Samples.RunAsync(100, TimeSpan.FromMinutes(1), 1000, async i =>
        {
            using var r = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = hot[i % 5], patientId = patients[i % 100], clinicId = clinic });
            hotStatuses.AddOrUpdate(r.StatusCode, 1, (_, n) => n + 1);
        });
        Console.WriteLine($"HTTP claim, 100 concurrent, 5 hot slots: {hotSamples.Summary()} · {hotRate:F0} req/s · {string.Join(", ", hotStatuses.Select(s => $"{(int)s.Key}: {s.Value}"))}");

        await using var check = await raw.OpenConnectionAsync();
        await using var inv = new NpgsqlCommand("""
            select (select count(*) from (select slot_id from bookings where status <> 'cancelled' group by slot_id having count(*) > 1) d)
                 + (select count(*) from bookings a join bookings b on a.practitioner_id = b.practitioner_id and a.id < b.id
                      and tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
                     where a.status <> 'cancelled' and b.status <> 'cancelled')
            """, check);
        var violations = (long)(await inv.ExecuteScalarAsync())!;
        Console.WriteLine($"invariant violations (double bookings or overlaps): {violations}");
        return violations == 0 ? 0 : 1;
    }
}
