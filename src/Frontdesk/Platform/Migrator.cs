using System.Reflection;
using Npgsql;

namespace Frontdesk.Platform;

/// <summary>
/// Applies the SQL files of supabase/migrations (embedded) in name order, each in its own
/// transaction, recording them in frontdesk.schema_migrations. A session-level advisory lock makes
/// two instances starting together take turns instead of racing.
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
            var applied = new HashSet<string>(StringComparer.Ordinal);
            await using (var cmd = new NpgsqlCommand("select version from frontdesk.schema_migrations", conn))
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
                while (await reader.ReadAsync(ct)) applied.Add(reader.GetString(0));

            var done = new List<string>();
            foreach (var (version, sql) in Embedded)
            {
                if (applied.Contains(version)) continue;
                await using var tx = await conn.BeginTransactionAsync(ct);
                await using (var cmd = new NpgsqlCommand(sql, conn, tx)) await cmd.ExecuteNonQueryAsync(ct);
                await using (var rec = new NpgsqlCommand("insert into frontdesk.schema_migrations (version) values ($1)", conn, tx))
                {
                    rec.Parameters.AddWithValue(version);
                    await rec.ExecuteNonQueryAsync(ct);
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

    /// <summary>Embedded migrations not yet recorded in the database (empty when current).</summary>
    public static async Task<IReadOnlyList<string>> PendingAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var applied = new HashSet<string>(StringComparer.Ordinal);
        await using var cmd = new NpgsqlCommand(
            "select version from frontdesk.schema_migrations", conn);
        try
        {
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) applied.Add(reader.GetString(0));
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.InvalidSchemaName or PostgresErrorCodes.InsufficientPrivilege)
        {
            return Embedded.Select(m => m.Version).ToList();
        }
        return Embedded.Select(m => m.Version).Where(v => !applied.Contains(v)).ToList();
    }

    static async Task ExecAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
