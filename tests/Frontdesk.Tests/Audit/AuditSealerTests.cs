using System.Net.Http.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Audit;

/// <summary>Issue 16: the audit chain is sealed after commit by a worker, never on the writer's
/// commit path, and tamper evidence holds for every sealed row.</summary>
public class AuditSealerTests
{
    static readonly TimeSpan Liveness = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Audited_writes_commit_while_the_clinics_chain_is_held_and_are_sealed_in_order_when_it_returns()
    {
        var c = await TestClinic.CreateAsync(slots: 5, patients: 1);
        await AuditWait.SealedAsync(c.Id);
        var before = await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1", c.Id);

        // The sealer (and, before issue 16, every committing writer) takes this lock per clinic.
        // Held here, the clinic's sealer is down as far as this clinic is concerned.
        await using var hold = await TestApp.AdminConnectionAsync();
        await using var tx = await hold.BeginTransactionAsync();
        await using (var lk = new Npgsql.NpgsqlCommand("select pg_advisory_xact_lock(hashtextextended('audit:' || $1::text, 0))", hold, tx))
        {
            lk.Parameters.Add(new Npgsql.NpgsqlParameter { Value = c.Id });
            await lk.ExecuteNonQueryAsync();
        }

        using var client = TestApp.As(c.Id, "receptionist");
        var bookings = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var claim = client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = c.SlotIds[i], patientId = c.PatientIds[0], clinicId = c.Id });
            Assert.Same(claim, await Task.WhenAny(claim, Task.Delay(Liveness)));   // an audited write never waits for the chain
            bookings.Add((await TestClinic.Json(await claim)).GetProperty("bookingId").GetString()!);
        }

        Assert.Equal(5L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and seq is null", c.Id));
        var health = await TestClinic.Json(await TestApp.Client(null).GetAsync("/healthz"));
        Assert.Equal("ok", health.GetProperty("status").GetString());
        var line = health.GetProperty("details").GetProperty("audit").GetString()!;
        var m = System.Text.RegularExpressions.Regex.Match(line, @"^unsealed (\d+) rows?, oldest (\d+\.\d) s; last sealing pass ");
        Assert.True(m.Success, line);
        Assert.True(long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 5, line);
        // …and in the gauges, once a sealing pass has looked.
        var (unsealed, age) = await AuditWait.GaugesAsync(until: g => g.Unsealed >= 5);
        Assert.True(unsealed >= 5 && age > 0, $"gauges: {unsealed} rows, {age} s");
        // The served trail shows the unsealed rows at once, newest first, without a position yet.
        var trail = await TestClinic.Json(await client.GetAsync($"/api/clinics/{c.Id}/audit?limit=3"));
        Assert.Equal(bookings[4], trail[0].GetProperty("entityId").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, trail[0].GetProperty("seq").ValueKind);

        await tx.RollbackAsync();   // the sealer returns
        await AuditWait.SealedAsync(c.Id);

        var sealedOrder = await TestApp.ListAsync<string>(
            "select entity_id from audit_trail where clinic_id = $1 and action = 'created' and entity = 'booking' order by seq", c.Id);
        Assert.Equal(bookings, sealedOrder);
        Assert.Equal(before + 5, await TestApp.ScalarAsync<long>("select max(seq) from audit_trail where clinic_id = $1", c.Id));
        Assert.Equal(before + 5, await TestApp.ScalarAsync<long>("select count(distinct seq) from audit_trail where clinic_id = $1", c.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_verify($1)", c.Id));
        trail = await TestClinic.Json(await client.GetAsync($"/api/clinics/{c.Id}/audit?limit=1"));
        Assert.Equal(before + 5, trail[0].GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task A_transaction_that_commits_late_is_chained_where_it_began_writing_and_never_skipped()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        await AuditWait.SealedAsync(c.Id);
        var claims = RequestClaims.ForClinic(c.Id, "late-writer", "admin");

        // T1 writes first and stays open; T2 writes after it and commits first.
        await using var t1 = await TestApp.Db.BeginAsync(claims, default);
        await Frontdesk.Audit.AuditLog.WriteAsync(t1, c.Id, "first", "test", null, null, default);
        await TestApp.Db.InTransactionAsync(claims, s => Frontdesk.Audit.AuditLog.WriteAsync(s, c.Id, "second", "test", null, null, default).ContinueWith(_ => 0), default);

        // A sealing pass now must not seal "second" ahead of the still-open "first".
        await TestApp.ExecAsync("select count(*) from audit_seal_pending(1000)");
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and seq is null and action = 'second'", c.Id));

        await t1.CommitAsync(default);
        await AuditWait.SealedAsync(c.Id);
        Assert.Equal(["first", "second"], await TestApp.ListAsync<string>(
            "select action from audit_trail where clinic_id = $1 and action in ('first', 'second') order by seq", c.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_verify($1)", c.Id));
    }

    [Fact]
    public async Task Swapping_two_sealed_rows_is_detected()
    {
        var c = await TestClinic.CreateAsync(slots: 2, patients: 2);
        await AuditWait.SealedAsync(c.Id);
        var seq = await TestApp.ScalarAsync<long>("select min(seq) + 1 from audit_trail where clinic_id = $1", c.Id);
        // Two steps because (clinic_id, seq) is unique.
        await TestApp.ExecAsync("update audit_trail set seq = -seq where clinic_id = $1 and seq in ($2, $2 + 1)", c.Id, seq);
        await TestApp.ExecAsync("update audit_trail set seq = case when seq = -$2 then $2 + 1 else $2 end where clinic_id = $1 and seq in (-$2, -$2 - 1)", c.Id, seq);
        Assert.Equal(seq, await TestApp.ScalarAsync<long>("select broken_seq from audit_verify($1)", c.Id));
    }

    [Fact]
    public async Task The_api_roles_can_neither_position_nor_seal_audit_rows()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        await using (var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(c.Id, "mallory", "admin"), default))
        {
            var e = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => s.ExecuteAsync(
                "insert into audit_trail (clinic_id, actor, action, seq, hash) values (@C, 'mallory', 'forged', 1, '\\x00')", new { C = c.Id }));
            Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, e.SqlState);
        }
        await using (var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(c.Id, "mallory", "admin"), default))
        {
            var e = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => s.ExecuteAsync("select audit_seal_pending(10)"));
            Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, e.SqlState);
        }
    }
}

/// <summary>Waits (generously) until the background sealer has chained every row of a clinic.</summary>
public static class AuditWait
{
    /// <summary>Reads frontdesk.audit.unsealed and …unsealed_age until <paramref name="until"/> holds (30 s at most).</summary>
    public static async Task<(long Unsealed, double Age)> GaugesAsync(Func<(long Unsealed, double Age), bool> until)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            long unsealed = -1;
            double age = -1;
            using (var listener = new System.Diagnostics.Metrics.MeterListener())
            {
                listener.InstrumentPublished = (i, l) => { if (i.Meter.Name == "Frontdesk" && i.Name.StartsWith("frontdesk.audit.unsealed", StringComparison.Ordinal)) l.EnableMeasurementEvents(i); };
                listener.SetMeasurementEventCallback<long>((i, v, _, _) => { if (i.Name == "frontdesk.audit.unsealed") unsealed = v; });
                listener.SetMeasurementEventCallback<double>((i, v, _, _) => { if (i.Name == "frontdesk.audit.unsealed_age") age = v; });
                listener.Start();
                listener.RecordObservableInstruments();
            }
            if (until((unsealed, age))) return (unsealed, age);
            Assert.True(DateTime.UtcNow < deadline, $"audit gauges stayed at {unsealed} rows, {age} s");
            await Task.Delay(50);
        }
    }

    public static async Task SealedAsync(Guid clinicId)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and seq is null", clinicId) > 0)
        {
            Assert.True(DateTime.UtcNow < until, "the audit sealer did not seal the clinic's rows within 30 s");
            await Task.Delay(20);
        }
    }
}
