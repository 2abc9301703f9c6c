using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Npgsql;

namespace Frontdesk.Tests.Platform;

/// <summary>
/// Issue 16: one clinic's concurrent writers must not queue on one row. A foreign key to clinics(id)
/// locks the clinic's row FOR KEY SHARE in every writing transaction (shared through a MultiXact that
/// every new writer rewrites); the busy tables' keys point at one of the clinic's 16 stripe rows
/// instead (…_clinic_stripes.sql).
/// </summary>
public class ClinicStripesTests
{
    /// <summary>The tables the busy request paths insert into (claims, moves, audited writes, reminders,
    /// calendar jobs, messages, calls and their follow-ups, tool calls).</summary>
    static readonly string[] Busy =
    [
        "audit_trail", "bookings", "booking_reminders", "calendar_jobs", "outbox", "sms_messages", "sms_replies",
        "vapi_events", "calls", "leads", "lead_followups", "call_turn_latencies", "callbacks", "knowledge_gaps",
    ];

    [Fact]
    public async Task A_claim_in_flight_does_not_lock_its_clinics_row()
    {
        var c = await TestClinic.CreateAsync(slots: 1, patients: 1);
        await using var writer = await TestApp.AdminConnectionAsync();
        await using var tx = await writer.BeginTransactionAsync();
        await using (var claim = new NpgsqlCommand("select claim_slot_atomic($1, $2, $3)->>'status'", writer, tx))
        {
            claim.Parameters.Add(new() { Value = c.SlotIds[0] });
            claim.Parameters.Add(new() { Value = c.PatientIds[0] });
            claim.Parameters.Add(new() { Value = c.Id });
            Assert.Equal("200", await claim.ExecuteScalarAsync());
        }
        // The claim wrote a booking, its audit row and its reminders, and has not committed. FOR UPDATE
        // conflicts with FOR KEY SHARE: before the stripes this failed with 55P03 (lock not available).
        await using var other = await TestApp.AdminConnectionAsync();
        await using var probe = await other.BeginTransactionAsync();
        await using (var locks = new NpgsqlCommand("select id from clinics where id = $1 for update nowait", other, probe))
        {
            locks.Parameters.Add(new() { Value = c.Id });
            Assert.Equal(c.Id, await locks.ExecuteScalarAsync());
        }
        await probe.RollbackAsync();
        await tx.CommitAsync();
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1", c.Id));
    }

    [Fact]
    public async Task The_busy_tables_reference_the_clinics_stripes_and_every_clinic_has_sixteen()
    {
        var direct = await TestApp.ListAsync<string>("""
            select c.conrelid::regclass::text from pg_constraint c
             where c.contype = 'f' and c.confrelid = 'clinics'::regclass and c.conrelid::regclass::text = any($1)
            """, (object)Busy);
        Assert.Empty(direct);
        var striped = await TestApp.ListAsync<string>("""
            select c.conrelid::regclass::text from pg_constraint c
             where c.contype = 'f' and c.confrelid = 'clinic_stripes'::regclass and c.confdeltype = 'c'
            """);
        Assert.Equal(Busy.Order(), striped.Order());

        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        Assert.Equal("0-15|16", await TestApp.ScalarAsync<string>(
            "select min(stripe) || '-' || max(stripe) || '|' || count(*) from clinic_stripes where clinic_id = $1", clinic.Id));

        // A clinic sees its own stripes only, and no API role may change them.
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        await using var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(clinic.Id, "stripes-test", "admin"), default);
        Assert.Equal(16, (await s.QueryAsync<short>("select stripe from clinic_stripes")).Count);
        Assert.Empty(await s.QueryAsync<short>("select stripe from clinic_stripes where clinic_id = @C", new { C = other.Id }));
        var denied = await Assert.ThrowsAsync<PostgresException>(() => s.ExecuteAsync("delete from clinic_stripes where clinic_id = @C", new { C = clinic.Id }, default));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, denied.SqlState);
    }

    [Fact]
    public async Task Deleting_a_clinic_still_removes_its_rows_through_the_stripes_and_new_rows_spread_over_them()
    {
        var c = await TestClinic.CreateAsync(slots: 20, patients: 1);
        for (var i = 0; i < 20; i++)
            await TestApp.ScalarAsync<string>("select claim_slot_atomic($1, $2, $3)->>'status'", c.SlotIds[i], c.PatientIds[0], c.Id);
        Assert.True(await TestApp.ScalarAsync<long>("select count(distinct stripe) from bookings where clinic_id = $1", c.Id) > 1,
            "20 bookings all on one stripe: the default is not spreading them");
        Assert.True(await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1", c.Id) >= 20);

        // A stripe that does not exist is refused like a clinic that does not exist.
        await using (var conn = await TestApp.AdminConnectionAsync())
        await using (var bad = new NpgsqlCommand("insert into audit_trail (clinic_id, actor, action) values (gen_random_uuid(), 'x', 'y')", conn))
            Assert.Equal(PostgresErrorCodes.ForeignKeyViolation, (await Assert.ThrowsAsync<PostgresException>(() => bad.ExecuteNonQueryAsync())).SqlState);

        await TestApp.ExecAsync("delete from clinics where id = $1", c.Id);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("""
            select (select count(*) from bookings where clinic_id = $1) + (select count(*) from audit_trail where clinic_id = $1)
                 + (select count(*) from booking_reminders where clinic_id = $1) + (select count(*) from clinic_stripes where clinic_id = $1)
            """, c.Id));
    }
}
