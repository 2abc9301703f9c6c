using System.Reflection;
using Npgsql;

namespace Frontdesk.Platform;

/// <summary>
/// Applies the SQL files of supabase/migrations (embedded) in name order, each in its own
/// transaction, recording them in frontdesk.schema_migrations. A session-level advisory lock makes
/// two instances starting together take turns instead of racing.
/// A migration counts as applied when either history has it: ours (the file name) or the Supabase
/// CLI's supabase_migrations.schema_migrations (the file's numeric prefix, what `supabase db push`
/// writes). On a Supabase database every migration applied here is recorded in the CLI's table too,
/// so `db push` and `-- migrate` can follow each other in any order.
/// </summary>
public static class Migrator
{
    const long LockKey = 0x46524F4E544445; // "FRONTDE"

    public static IReadOnlyList<(string Version, string Sql)> Embedded { get; } = LoadEmbedded();

    static List<(string, string)> LoadEmbedded()
    {
        var asm = typeof(Migrator).Assembly;
        return asm.GetManifestResourceNames()
            .Where(n => n.StartsWith("migrations/", StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n =>
            {
                using var s = asm.GetManifestResourceStream(n)!;
                using var r = new StreamReader(s);
                return (Path.GetFileNameWithoutExtension(n["migrations/".Length..]), r.ReadToEnd());
            })
            .ToList();
    }

    /// <summary>The Supabase CLI's version of a migration: the file name's numeric prefix.</summary>
    public static string CliVersion(string version) => version.Split('_', 2)[0];

    static string CliName(string version) => version.Split('_', 2) is [_, var name] ? name : "";

    static bool IsApplied(string version, HashSet<string> recorded) =>
        recorded.Contains(version) || recorded.Contains(CliVersion(version));

    /// <returns>The versions applied by this call.</returns>
    public static async Task<IReadOnlyList<string>> ApplyAsync(string adminConnectionString, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(adminConnectionString);
        await conn.OpenAsync(ct);
        await ExecAsync(conn, $"select pg_advisory_lock({LockKey})", ct);
        try
        {
            await ExecAsync(conn, """
                create schema if not exists frontdesk;
                create table if not exists frontdesk.schema_migrations (
                  version text primary key,
                  applied_at timestamptz not null default now())
                """, ct);
            var cliHistory = await CliHistoryAsync(conn, ct);
            var recorded = new HashSet<string>(StringComparer.Ordinal);
            await ReadVersionsAsync(conn, "select version from frontdesk.schema_migrations", recorded, ct);
            if (cliHistory) await ReadVersionsAsync(conn, "select version from supabase_migrations.schema_migrations", recorded, ct);

            var done = new List<string>();
            foreach (var (version, sql) in Embedded)
            {
                if (IsApplied(version, recorded)) continue;
                // As `supabase db push` does: a migration that changed a session setting
                // (set_config(…, false)) must not change how the next one runs.
                await ExecAsync(conn, "reset all", ct);
                await using var tx = await conn.BeginTransactionAsync(ct);
                await using (var cmd = new NpgsqlCommand(sql, conn, tx)) await cmd.ExecuteNonQueryAsync(ct);
                await using (var rec = new NpgsqlCommand("insert into frontdesk.schema_migrations (version) values ($1) on conflict do nothing", conn, tx))
                {
                    rec.Parameters.AddWithValue(version);
                    await rec.ExecuteNonQueryAsync(ct);
                }
                if (cliHistory)
                {
                    await using var cli = new NpgsqlCommand(
                        "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3) on conflict do nothing", conn, tx);
                    cli.Parameters.AddWithValue(CliVersion(version));
                    cli.Parameters.AddWithValue(CliName(version));
                    cli.Parameters.AddWithValue(new[] { sql });
                    await cli.ExecuteNonQueryAsync(ct);
                }
                await tx.CommitAsync(ct);
                done.Add(version);
            }
            return done;
        }
        finally
        {
            await ExecAsync(conn, $"select pg_advisory_unlock({LockKey})", CancellationToken.None);
        }
    }

    /// <summary>
    /// True when the database keeps the Supabase CLI's migration history. On a Supabase database
    /// (role supabase_admin exists) the table is created the way the CLI creates it, so versions
    /// applied here are never applied again by a later `supabase db push`.
    /// </summary>
    static async Task<bool> CliHistoryAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using (var check = new NpgsqlCommand("""
            select to_regclass('supabase_migrations.schema_migrations') is not null,
                   exists (select 1 from pg_roles where rolname = 'supabase_admin')
            """, conn))
        await using (var reader = await check.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            if (reader.GetBoolean(0)) return true;
            if (!reader.GetBoolean(1)) return false;
        }
        await ExecAsync(conn, """
            create schema if not exists supabase_migrations;
            create table if not exists supabase_migrations.schema_migrations (version text not null primary key);
            alter table supabase_migrations.schema_migrations add column if not exists statements text[];
            alter table supabase_migrations.schema_migrations add column if not exists name text
            """, ct);
        return true;
    }

    static async Task ReadVersionsAsync(NpgsqlConnection conn, string sql, HashSet<string> into, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) into.Add(reader.GetString(0));
    }

    /// <summary>Embedded migrations recorded in neither history (empty when current). Works for the
    /// owner and for service_role (through frontdesk.applied_migrations()).</summary>
    public static async Task<IReadOnlyList<string>> PendingAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var recorded = new HashSet<string>(StringComparer.Ordinal);
        bool viaFunction;
        await using (var check = new NpgsqlCommand("select to_regprocedure('frontdesk.applied_migrations()') is not null", conn))
            viaFunction = (bool)(await check.ExecuteScalarAsync(ct))!;
        try
        {
            // Before that function's migration: only our own history is readable.
            await ReadVersionsAsync(conn, viaFunction ? "select v from frontdesk.applied_migrations() v" : "select version from frontdesk.schema_migrations", recorded, ct);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.InvalidSchemaName or PostgresErrorCodes.InsufficientPrivilege)
        {
            return Embedded.Select(m => m.Version).ToList();
        }
        return Embedded.Select(m => m.Version).Where(v => !IsApplied(v, recorded)).ToList();
    }

    static async Task ExecAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
