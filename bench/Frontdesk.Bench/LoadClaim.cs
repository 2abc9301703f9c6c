using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Frontdesk.Audit;
using Frontdesk.Platform;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Frontdesk.Bench;

/// <summary>
/// Issue 3's benchmark: claims through HTTP at 100 concurrent (distinct slots), raw claim_slot_atomic
/// on a pool in the same run, and a hot variant (100 clients, 5 slots), with the double-booking
/// invariants checked afterwards. Issue 16: raw claims at 32 connections into one clinic, spread over
/// ten clinics, and into one clinic with the audit chain switched off (the sealer stopped — a bench
/// switch, there is no production one), interleaved in two rounds; the sealer's backlog and drain;
/// with --legacy also the old commit-time seal (its trigger reinstalled on this throwaway cluster).
/// Args: [--claims 4000] [--raw 3000] [--fsync] [--legacy].
/// </summary>
public sealed class LoadClaim : IBenchCommand
{
    public string Name => "load claim";
    public string Summary => "claims via HTTP (100 concurrent, distinct and hot slots) vs raw SQL; one clinic vs ten vs chain off at 32 connections; invariants";

    const int Connections = 32;

    public async Task<int> RunAsync(string[] args)
    {
        int Opt(string name, int fallback) => args.SkipWhile(a => a != name).Skip(1).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).FirstOrDefault(fallback);
        var perRun = Opt("--claims", 4000);
        var raw = Opt("--raw", 3000);
        var legacy = args.Contains("--legacy");
        var rounds = legacy ? 3 : 2;   // the legacy variants use the third round's slots
        await using var host = await BenchHost.StartAsync(durable: args.Contains("--fsync"));
        Console.WriteLine($"fsync {(args.Contains("--fsync") ? "on" : "off")}; load average at start: {LoadTenantRead.LoadAverage()}");
        // The raw one-clinic runs, chain on and off, go into the HTTP run's clinic, after its 4,000 bookings
        // (with their audit rows and reminders): a clinic with a history, against ten fresh ones.
        var (clinic, _, slots, patients) = await host.SeedClinicAsync(slots: perRun + 5 + (rounds + 2) * raw, patients: 100);
        var spread = new List<(Guid Clinic, List<Guid> Slots, List<Guid> Patients)>();
        for (var c = 0; c < 10; c++)
        {
            var (id, _, s, p) = await host.SeedClinicAsync(slots: rounds * raw / 10 + 1, patients: 10);
            spread.Add((id, s, p));
        }
        await host.Cluster.AnalyzeAsync();
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

        // Raw SQL on a plain pool, same function, distinct slots (the database's own limit in this run).
        await using var pool = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(host.AdminConnectionString) { Pooling = true, MaxPoolSize = 64, MaxAutoPrepare = 64, AutoPrepareMinUsages = 2 }.ConnectionString);
        async Task<double> Claims(IReadOnlyList<(Guid Slot, Guid Patient, Guid Clinic)> work)
        {
            var (samples, rate) = await Samples.RunAsync(Connections, TimeSpan.FromMinutes(5), work.Count, async i =>
            {
                await using var conn = await pool.OpenConnectionAsync();
                await using var cmd = new NpgsqlCommand("select claim_slot_atomic($1, $2, $3)", conn);
                cmd.Parameters.Add(new NpgsqlParameter { Value = work[i].Slot });
                cmd.Parameters.Add(new NpgsqlParameter { Value = work[i].Patient });
                cmd.Parameters.Add(new NpgsqlParameter { Value = work[i].Clinic });
                await cmd.ExecuteScalarAsync();
            });
            return rate;
        }
        List<(Guid, Guid, Guid)> One(int round) => Enumerable.Range(0, raw).Select(i => (slots[perRun + 5 + round * raw + i], patients[i % 100], clinic)).ToList();
        List<(Guid, Guid, Guid)> Off(int round) => Enumerable.Range(0, raw).Select(i => (slots[perRun + 5 + (rounds + round) * raw + i], patients[i % 100], clinic)).ToList();
        List<(Guid, Guid, Guid)> Ten(int round) => Enumerable.Range(0, raw).Select(i =>
        {
            var (c, s, p) = spread[i % 10];
            return (s[round * (raw / 10) + i / 10], p[i % 10], c);
        }).ToList();

        var sealer = host.App.Services.GetRequiredService<AuditSealer>();
        double one = 0, ten = 0, off = 0;
        long peakBacklog = 0;
        for (var round = 0; round < 2; round++)
        {
            one = Math.Max(one, await Claims(One(round)));
            peakBacklog = Math.Max(peakBacklog, await UnsealedAsync(host));
            ten = Math.Max(ten, await Claims(Ten(round)));
            peakBacklog = Math.Max(peakBacklog, await UnsealedAsync(host));
            await sealer.StopAsync(CancellationToken.None);   // the chain off: rows inserted, nothing sealed
            off = Math.Max(off, await Claims(Off(round)));
            var backlog = await UnsealedAsync(host);
            var drain = System.Diagnostics.Stopwatch.StartNew();
            await sealer.StartAsync(CancellationToken.None);
            while (await UnsealedAsync(host) > 0) await Task.Delay(20);
            Console.WriteLine($"  round {round + 1}: sealer back after the chain-off run: {backlog} rows sealed in {drain.Elapsed.TotalMilliseconds:F0} ms");
        }
        Console.WriteLine($"raw claim_slot_atomic, {Connections} connections, {raw} claims per run, best of 2 interleaved rounds:");
        Console.WriteLine($"  one clinic {one:F0} claims/s · ten clinics {ten:F0} claims/s · one clinic, chain off {off:F0} claims/s; unsealed at a run's end at most {peakBacklog}");
        Console.WriteLine($"  one/ten {one / ten:F2} (goal ≥ 0.8) · one/chain off {one / off:F2} (goal ≥ 0.8)");
        Console.WriteLine($"HTTP/raw throughput: {httpRate / one:F2}");

        if (legacy)
        {
            await sealer.StopAsync(CancellationToken.None);
            await ExecAsync(host, LegacySeal);
            var legacyOne = await Claims(One(2));
            var legacyTen = await Claims(Ten(2));
            await ExecAsync(host, "drop trigger audit_seal_legacy on audit_trail; drop function public.audit_seal_legacy()");
            await sealer.StartAsync(CancellationToken.None);
            Console.WriteLine($"  before issue 16 (seal at commit under a per-clinic lock): one clinic {legacyOne:F0} claims/s · ten clinics {legacyTen:F0} claims/s → one/ten {legacyOne / legacyTen:F2}");
        }

        // Hot: 100 clients fighting over 5 slots.
        var hot = slots.Skip(perRun).Take(5).ToList();
        var hotStatuses = new System.Collections.Concurrent.ConcurrentDictionary<HttpStatusCode, int>();
        var (hotSamples, hotRate) = await Samples.RunAsync(100, TimeSpan.FromMinutes(1), 1000, async i =>
        {
            using var r = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = hot[i % 5], patientId = patients[i % 100], clinicId = clinic });
            hotStatuses.AddOrUpdate(r.StatusCode, 1, (_, n) => n + 1);
        });
        Console.WriteLine($"HTTP claim, 100 concurrent, 5 hot slots: {hotSamples.Summary()} · {hotRate:F0} req/s · {string.Join(", ", hotStatuses.Select(s => $"{(int)s.Key}: {s.Value}"))}");

        var until = DateTime.UtcNow.AddMinutes(1);
        while (await UnsealedAsync(host) > 0 && DateTime.UtcNow < until) await Task.Delay(20);
        await using var check = await pool.OpenConnectionAsync();
        await using var inv = new NpgsqlCommand("""
            select (select count(*) from (select slot_id from bookings where status <> 'cancelled' group by slot_id having count(*) > 1) d)
                 + (select count(*) from bookings a join bookings b on a.practitioner_id = b.practitioner_id and a.id < b.id
                      and tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
                     where a.status <> 'cancelled' and b.status <> 'cancelled')
            """, check);
        var violations = (long)(await inv.ExecuteScalarAsync())!;
        await using var chains = new NpgsqlCommand("select count(*) from clinics c, lateral audit_verify(c.id)", check);
        var broken = (long)(await chains.ExecuteScalarAsync())!;
        Console.WriteLine($"invariant violations (double bookings or overlaps): {violations}; broken audit chains: {broken}; unsealed rows: {await UnsealedAsync(host)}");
        Console.WriteLine($"load average at end: {LoadTenantRead.LoadAverage()}");
        return violations == 0 && broken == 0 ? 0 : 1;
    }

    static async Task<long> UnsealedAsync(BenchHost host)
    {
        await using var conn = new NpgsqlConnection(host.AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("select count(*) from audit_trail where seq is null", conn);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    static async Task ExecAsync(BenchHost host, string sql)
    {
        await using var conn = new NpgsqlConnection(host.AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>The foundation's audit_seal (…_foundation.sql), for the before/after comparison only:
    /// a deferred trigger that seals at COMMIT under the clinic's advisory lock.</summary>
    const string LegacySeal = """
        create function public.audit_seal_legacy() returns trigger
        language plpgsql security definer set search_path = public, pg_temp as $$
        declare
          v_prev record;
          v_seq bigint;
          v_prev_hash bytea;
          v_at timestamptz := clock_timestamp();
        begin
          perform pg_advisory_xact_lock(hashtextextended('audit:' || new.clinic_id::text, 0));
          select seq, hash into v_prev from audit_trail
           where clinic_id = new.clinic_id and seq is not null order by seq desc limit 1;
          v_seq := coalesce(v_prev.seq, 0) + 1;
          v_prev_hash := coalesce(v_prev.hash, '\x'::bytea);
          -- txid null: these rows are chained in commit order, not (txid, id) order, like rows sealed
          -- before issue 16, so audit_verify does not hold them to the sealer's order.
          update audit_trail
             set seq = v_seq, prev_hash = v_prev_hash, at = v_at, txid = null,
                 hash = public.audit_row_digest(v_prev_hash, new.clinic_id, v_seq, v_at, new.actor, new.action,
                                                new.entity, new.entity_id, new.detail)
           where clinic_id = new.clinic_id and id = new.id;
          return null;
        end $$;
        create constraint trigger audit_seal_legacy after insert on audit_trail
          deferrable initially deferred for each row execute function public.audit_seal_legacy();
        """;
}
