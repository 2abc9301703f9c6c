using System.Text;
using System.Text.RegularExpressions;
using Npgsql;

namespace Frontdesk.Tests.Infrastructure;

/// <summary>
/// What `supabase db push` does to a database, so the suite applies supabase/migrations the way a
/// deployment does: connected as the login it is given (`postgres` on Supabase), the history table
/// created as the CLI creates it, then per pending file `RESET ALL` and one implicit transaction
/// holding every statement of the file (sent one by one, split like the CLI's parser does) plus
/// <c>insert into supabase_migrations.schema_migrations (version, name, statements)</c>.
/// </summary>
public static partial class SupabaseDbPush
{
    [GeneratedRegex(@"^([0-9]+)_(.*)\.sql$")]
    private static partial Regex FileName();

    /// <returns>The versions this push applied.</returns>
    public static async Task<IReadOnlyList<string>> PushAsync(string connectionString, string migrationsDir)
    {
        await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await conn.OpenAsync();
        var remote = new HashSet<string>(StringComparer.Ordinal);
        await using (var exists = new NpgsqlCommand("select to_regclass('supabase_migrations.schema_migrations') is not null", conn))
            if ((bool)(await exists.ExecuteScalarAsync())!)
            {
                await using var read = new NpgsqlCommand("select version from supabase_migrations.schema_migrations", conn);
                await using var reader = await read.ExecuteReaderAsync();
                while (await reader.ReadAsync()) remote.Add(reader.GetString(0));
            }

        var pending = Directory.GetFiles(migrationsDir, "*.sql").Select(Path.GetFileName).Order(StringComparer.Ordinal)
            .Select(f => (File: f!, Match: FileName().Match(f!)))
            .Where(f => f.Match.Success && !remote.Contains(f.Match.Groups[1].Value))
            .ToList();
        if (pending.Count == 0) return [];

        await using (var create = new NpgsqlBatch(conn)
        {
            BatchCommands =
            {
                new("SET lock_timeout = '4s'"),
                new("CREATE SCHEMA IF NOT EXISTS supabase_migrations"),
                new("CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY)"),
                new("ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[]"),
                new("ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text"),
            },
        })
            await create.ExecuteNonQueryAsync();

        var applied = new List<string>();
        foreach (var (file, match) in pending)
        {
            await using (var reset = new NpgsqlCommand("RESET ALL", conn)) await reset.ExecuteNonQueryAsync();
            var statements = SplitStatements(await File.ReadAllTextAsync(Path.Combine(migrationsDir, file)));
            // One batch, one Sync: PostgreSQL runs it as one implicit transaction, like pgconn's ExecBatch.
            await using var batch = new NpgsqlBatch(conn);
            foreach (var statement in statements) batch.BatchCommands.Add(new NpgsqlBatchCommand(statement));
            var record = new NpgsqlBatchCommand("INSERT INTO supabase_migrations.schema_migrations(version, name, statements) VALUES($1, $2, $3)");
            record.Parameters.Add(new NpgsqlParameter { Value = match.Groups[1].Value });
            record.Parameters.Add(new NpgsqlParameter { Value = match.Groups[2].Value });
            record.Parameters.Add(new NpgsqlParameter { Value = statements.ToArray() });
            batch.BatchCommands.Add(record);
            try
            {
                await batch.ExecuteNonQueryAsync();
            }
            catch (PostgresException e)
            {
                throw new InvalidOperationException($"db push: {file} failed at statement {e.BatchCommand?.CommandText}: {e.SqlState} {e.MessageText}", e);
            }
            applied.Add(match.Groups[1].Value);
        }
        return applied;
    }

    /// <summary>Splits a SQL file into statements at top-level semicolons, respecting quotes, quoted
    /// identifiers, dollar quotes and comments. Empty statements are dropped.</summary>
    public static List<string> SplitStatements(string sql)
    {
        var result = new List<string>();
        var current = new StringBuilder();
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            if (c == '-' && At(sql, i, "--"))
            {
                var end = sql.IndexOf('\n', i);
                end = end < 0 ? sql.Length : end;
                current.Append(sql, i, end - i);
                i = end;
            }
            else if (c == '/' && At(sql, i, "/*"))
            {
                var depth = 0;
                var start = i;
                do
                {
                    if (At(sql, i, "/*")) { depth++; i += 2; }
                    else if (At(sql, i, "*/")) { depth--; i += 2; }
                    else i++;
                } while (depth > 0 && i < sql.Length);
                current.Append(sql, start, i - start);
            }
            else if (c is '\'' or '"')
            {
                var start = i++;
                while (i < sql.Length)
                {
                    if (sql[i] != c) { i++; continue; }
                    if (i + 1 < sql.Length && sql[i + 1] == c) { i += 2; continue; }  // '' or "" inside
                    i++;
                    break;
                }
                current.Append(sql, start, i - start);
            }
            else if (c == '$' && DollarTag(sql, i) is { } tag)
            {
                var close = sql.IndexOf(tag, i + tag.Length, StringComparison.Ordinal);
                var end = close < 0 ? sql.Length : close + tag.Length;
                current.Append(sql, i, end - i);
                i = end;
            }
            else if (c == ';')
            {
                Flush();
                i++;
            }
            else
            {
                current.Append(c);
                i++;
            }
        }
        Flush();
        return result;

        void Flush()
        {
            var statement = current.ToString().Trim();
            if (!IsOnlyComments(statement)) result.Add(statement);
            current.Clear();
        }
    }

    static bool At(string s, int i, string token) => string.CompareOrdinal(s, i, token, 0, token.Length) == 0;

    /// <summary>$tag$ or $$ at <paramref name="i"/> (not a positional parameter such as $1).</summary>
    static string? DollarTag(string s, int i)
    {
        var j = i + 1;
        while (j < s.Length && (char.IsLetterOrDigit(s[j]) || s[j] == '_')) j++;
        if (j >= s.Length || s[j] != '$') return null;
        var tag = s[i..(j + 1)];
        return tag.Length > 2 && char.IsDigit(tag[1]) ? null : tag;
    }

    static bool IsOnlyComments(string statement)
    {
        var lines = statement.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0);
        return lines.All(l => l.StartsWith("--", StringComparison.Ordinal)) && !statement.Contains("/*", StringComparison.Ordinal)
               || statement.Length == 0;
    }
}
