using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Npgsql;

namespace Frontdesk.Tests.Platform;

/// <summary>
/// Issue 12's probes, run through the application's own login (frontdesk_app switching to each API
/// role, as request paths do). On a bare cluster they were always denied; on a database with
/// Supabase's default privileges every one of them succeeded until the least-privilege migration.
/// <see cref="PrivilegeTestsOnSupabase"/> runs them there.
/// </summary>
public class PrivilegeTests
{
    static readonly RequestClaims Service = RequestClaims.AsSystem(SystemPath.AdminBootstrap);
    static readonly RequestClaims Anon = new("anon", null, null, null);

    static async Task<PostgresException?> DeniedAsync(RequestClaims claims, string sql, object? args = null)
    {
        await using var s = await TestApp.Db.BeginAsync(claims, default);
        // A TRUNCATE that is allowed would wait for every other test's locks; fail fast instead.
        await s.ExecuteAsync("set local lock_timeout = '2s'");
        try
        {
            await s.ExecuteAsync(sql, args);
            return null; // rolled back with the session: a probe that got through changes nothing
        }
        catch (PostgresException e)
        {
            return e;
        }
    }

    static async Task<List<string>> TablesAsync()
    {
        await using var c = await TestApp.AdminConnectionAsync();
        await using var cmd = new NpgsqlCommand("""
            select format('%I.%I', n.nspname, c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname in ('public', 'frontdesk') and c.relkind in ('r', 'p')
              and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
            order by 1
            """, c);
        var tables = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) tables.Add(r.GetString(0));
        return tables;
    }

    [Fact]
    public async Task No_API_role_can_truncate_any_table()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var tables = await TablesAsync();
        Assert.Contains("public.audit_trail", tables);
        var allowed = new List<string>();
        foreach (var claims in new[] { RequestClaims.ForClinic(clinic.Id, "probe", "admin"), Service, Anon })
            foreach (var table in tables)
                if ((await DeniedAsync(claims, $"truncate {table}"))?.SqlState != PostgresErrorCodes.InsufficientPrivilege)
                    allowed.Add($"{claims.Role} {table}");
        Assert.Empty(allowed);
    }

    [Theory]
    [InlineData("update audit_trail set action = 'forged' where clinic_id = @C")]
    [InlineData("delete from audit_trail where clinic_id = @C")]
    public async Task The_audit_trail_is_append_only_for_authenticated_and_service_role(string sql)
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 1);
        var rows = await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1", clinic.Id);
        Assert.True(rows > 0);
        foreach (var claims in new[] { RequestClaims.ForClinic(clinic.Id, "probe", "admin"), Service })
        {
            var e = await DeniedAsync(claims, sql, new { C = clinic.Id });
            Assert.True(e?.SqlState == PostgresErrorCodes.InsufficientPrivilege, $"{claims.Role}: {e?.SqlState ?? "allowed"} for {sql}");
        }
        Assert.Equal(rows, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action <> 'forged'", clinic.Id));
        // Appending still works: the trail is append-only, not read-only.
        await using var append = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(clinic.Id, "probe", "admin"), default);
        Assert.Equal(1, await append.ExecuteAsync("insert into audit_trail (clinic_id, actor, action) values (@C, 'probe', 'probe')", new { C = clinic.Id }));
    }

    [Fact]
    public async Task A_clinic_member_cannot_delete_its_own_clinic()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var e = await DeniedAsync(RequestClaims.ForClinic(clinic.Id, "probe", "admin"), "delete from clinics where id = @C", new { C = clinic.Id });
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, e?.SqlState);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from clinics where id = $1", clinic.Id));
    }

    [Fact]
    public async Task Anon_cannot_execute_claim_slot_atomic()
    {
        var clinic = await TestClinic.CreateAsync(slots: 1, patients: 1);
        var e = await DeniedAsync(Anon, "select claim_slot_atomic(@S, @P, @C)", new { S = clinic.SlotIds[0], P = clinic.PatientIds[0], C = clinic.Id });
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, e?.SqlState);
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", clinic.SlotIds[0]));
    }

    [Fact]
    public async Task Anon_can_execute_none_of_frontdesks_functions()
    {
        await using var c = await TestApp.AdminConnectionAsync();
        await using var cmd = new NpgsqlCommand("""
            select coalesce(string_agg(p.oid::regprocedure::text, ', ' order by 1), '')
            from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname in ('public', 'frontdesk') and has_function_privilege('anon', p.oid, 'EXECUTE')
              and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
            """, c);
        Assert.Equal("", (string)(await cmd.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task The_application_login_runs_on_the_database_it_was_given_not_as_the_owner()
    {
        await using var conn = await TestApp.Db.DataSource.OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("select current_user::text, (select rolsuper or rolbypassrls from pg_roles where rolname = current_user)", conn);
        await using var r = await cmd.ExecuteReaderAsync();
        await r.ReadAsync();
        Assert.Equal("frontdesk_app", r.GetString(0));
        Assert.False(r.GetBoolean(1));
    }
}

/// <summary>The same probes on the Supabase-shaped cluster, where default privileges grant ALL.</summary>
public sealed class PrivilegeTestsOnSupabase : PrivilegeTests
{
    public PrivilegeTestsOnSupabase() => TestApp.UseForThisTest(TestTarget.Supabase);
}
