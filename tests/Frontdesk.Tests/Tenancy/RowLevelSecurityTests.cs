using System.Net.Http.Json;
using Frontdesk.Booking;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Npgsql;

namespace Frontdesk.Tests.Tenancy;

/// <summary>The database half of tenancy, on its own: the data layer called directly with clinic A's
/// claims for clinic B's ids, bypassing the API's check.</summary>
public class RowLevelSecurityTests
{
    [Fact]
    public async Task A_claims_see_nothing_of_B_even_without_the_api_check()
    {
        var a = await TestClinic.CreateAsync();
        var b = await TestClinic.CreateAsync();
        using var bAdmin = TestApp.As(b.Id);
        var bBooking = (await TestClinic.Json(await bAdmin.PostAsJsonAsync("/functions/v1/claim_slot_atomic",
            new { slotId = b.SlotIds[0], patientId = b.PatientIds[0], clinicId = b.Id }))).GetProperty("bookingId").GetGuid();

        var aClaims = RequestClaims.ForClinic(a.Id, "rls-test", "admin");
        await using var s = await TestApp.Db.BeginAsync(aClaims, default);
        Assert.Empty(await s.QueryAsync<Guid>("select id from bookings where id = @Id", new { Id = bBooking }));
        Assert.Empty(await s.QueryAsync<Guid>("select id from patients where clinic_id = @C", new { C = b.Id }));
        Assert.Empty(await s.QueryAsync<Guid>("select id from calendar_slots where clinic_id = @C", new { C = b.Id }));
        Assert.Empty(await s.QueryAsync<Guid>("select id from clinics where id = @C", new { C = b.Id }));
        Assert.Empty(await s.QueryAsync<long>("select seq from audit_trail where clinic_id = @C", new { C = b.Id }));
        // Writes to B's rows touch nothing.
        Assert.Equal(0, await s.ExecuteAsync("update bookings set status = 'cancelled' where id = @Id", new { Id = bBooking }));
        Assert.Equal(0, await s.ExecuteAsync("delete from patients where clinic_id = @C", new { C = b.Id }));
        // The slot engine itself, given B's ids, finds no slot.
        var outcome = await SlotEngine.ClaimAsync(s, b.SlotIds[1], b.PatientIds[1], b.Id, null, "api", null, default);
        Assert.Equal(404, outcome.Status);
        await s.CommitAsync(default);

        Assert.Equal("confirmed", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", bBooking));
        Assert.Equal(2L, await TestApp.ScalarAsync<long>("select count(*) from patients where clinic_id = $1", b.Id));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", b.SlotIds[1]));
    }

    [Theory]
    [InlineData("insert into patients (clinic_id, name, phone) values (@B, 'Mallory', '+447700900999')")]
    [InlineData("insert into practitioners (clinic_id, name) values (@B, 'Dr Mallory')")]
    [InlineData("insert into audit_trail (clinic_id, actor, action) values (@B, 'mallory', 'forged')")]
    [InlineData("update patients set clinic_id = @B where clinic_id = @A")]
    [InlineData("insert into booking_reminders (clinic_id, booking_id, remind_offset, starts_at, send_at) values (@B, gen_random_uuid(), interval '1 hour', now(), now())")]
    public async Task Writing_a_row_for_B_under_A_claims_fails_with_42501(string sql)
    {
        var a = await TestClinic.CreateAsync(slots: 0, patients: 1);
        var b = await TestClinic.CreateAsync(slots: 0, patients: 0);
        await using var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(a.Id, "rls-test", "admin"), default);
        var e = await Assert.ThrowsAsync<PostgresException>(() => s.ExecuteAsync(sql, new { A = a.Id, B = b.Id }));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, e.SqlState);
    }

    [Fact]
    public async Task A_claims_see_none_of_Bs_reminders_or_inbox_and_cannot_arm_or_handle_them()
    {
        var a = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var b = await TestClinic.CreateAsync();
        using var bAdmin = TestApp.As(b.Id);
        var bBooking = (await TestClinic.Json(await bAdmin.PostAsJsonAsync("/functions/v1/claim_slot_atomic",
            new { slotId = b.SlotIds[0], patientId = b.PatientIds[0], clinicId = b.Id }))).GetProperty("bookingId").GetGuid();
        await TestApp.ExecAsync("insert into sms_replies (clinic_id, message_sid, from_hash, kind, booking_id, status) values ($1, $2, $3, 'message', $4, 'open')",
            b.Id, "SM" + Guid.NewGuid().ToString("N"), new byte[32], bBooking);

        await using var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(a.Id, "rls-test", "admin"), default);
        Assert.Empty(await s.QueryAsync<Guid>("select id from booking_reminders where clinic_id = @B", new { B = b.Id }));
        Assert.Empty(await s.QueryAsync<Guid>("select id from sms_replies where clinic_id = @B", new { B = b.Id }));
        Assert.Equal(0, await s.ExecuteAsync("update sms_replies set status = 'handled' where clinic_id = @B", new { B = b.Id }));
        Assert.Equal(0, await s.QuerySingleOrDefaultAsync<int>("select public.reminders_arm(@B, null)", new { B = b.Id }));
        await s.CommitAsync(default);

        Assert.Equal(2L, await TestApp.ScalarAsync<long>("select count(*) from booking_reminders where booking_id = $1 and status = 'armed'", bBooking));
        Assert.Equal("open", await TestApp.ScalarAsync<string>("select status from sms_replies where clinic_id = $1", b.Id));
    }

    [Fact]
    public async Task Application_login_is_neither_superuser_nor_owner_and_holds_no_table_privilege_itself()
    {
        await using var conn = await TestApp.Db.DataSource.OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("""
            select r.rolsuper, r.rolbypassrls, r.rolinherit,
                   (select count(*) from pg_tables t where t.schemaname = 'public' and t.tableowner = current_user)
            from pg_roles r where r.rolname = current_user
            """, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.False(reader.GetBoolean(0));
        Assert.False(reader.GetBoolean(1));
        Assert.False(reader.GetBoolean(2));
        Assert.Equal(0L, reader.GetInt64(3));
        await reader.CloseAsync();
        // Without switching role, the login can read nothing.
        await using var read = new NpgsqlCommand("select count(*) from bookings", conn);
        var e = await Assert.ThrowsAsync<PostgresException>(() => read.ExecuteScalarAsync());
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, e.SqlState);
    }

    [Fact]
    public async Task Tenant_settings_do_not_survive_into_the_next_use_of_a_pooled_connection()
    {
        var a = await TestClinic.CreateAsync(slots: 0, patients: 1);
        _ = await TestApp.Db.QueryOnceAsync<Guid>(RequestClaims.ForClinic(a.Id, "x", "admin"), "select id from patients", null, default);
        await using var conn = await TestApp.Db.DataSource.OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("select coalesce(current_setting('request.jwt.claims', true), ''), current_user::text", conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal("", reader.GetString(0));
        Assert.Equal("frontdesk_app", reader.GetString(1));
    }
}
