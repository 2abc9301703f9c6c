using Frontdesk.Tests.Infrastructure;
using Npgsql;

namespace Frontdesk.Tests.Platform;

/// <summary>Row counts of one clinic across every table that has a clinic_id column (found in the
/// catalog, so tables added later are counted too), and of clinics by name prefix.</summary>
public static class StoredRows
{
    static readonly Lazy<Task<string>> CountSql = new(async () =>
    {
        await using var c = await TestApp.AdminConnectionAsync();
        await using var cmd = new NpgsqlCommand("""
            select string_agg(format('select %L as t, count(*) as n from public.%I where clinic_id = $1', table_name, table_name), ' union all ' order by table_name)
            from information_schema.columns
            where table_schema = 'public' and column_name = 'clinic_id'
              and table_name in (select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE')
            """, c);
        return (string)(await cmd.ExecuteScalarAsync())!;
    });

    // Pooled (the admin string disables pooling for migrations): a battery counts before and after every request.
    static readonly Lazy<Task<NpgsqlDataSource>> Pool = new(async () =>
        NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(await TestCluster.AdminConnectionStringAsync()) { Pooling = true }.ConnectionString));

    /// <summary>table → rows of the clinic.</summary>
    public static async Task<IReadOnlyDictionary<string, long>> OfClinicAsync(Guid clinicId)
    {
        var sql = await CountSql.Value;
        await using var c = await (await Pool.Value).OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        cmd.Parameters.Add(new NpgsqlParameter { Value = clinicId });
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) counts[reader.GetString(0)] = reader.GetInt64(1);
        return counts;
    }

    public static async Task<long> ClinicsNamedAsync(string prefix)
    {
        await using var c = await (await Pool.Value).OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("select count(*) from clinics where starts_with(name, $1)", c);
        cmd.Parameters.Add(new NpgsqlParameter { Value = prefix });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>The tables whose counts differ, as "table: before → after".</summary>
    public static string Diff(IReadOnlyDictionary<string, long> before, IReadOnlyDictionary<string, long> after) =>
        string.Join(", ", after.Where(a => before.GetValueOrDefault(a.Key) != a.Value)
            .Select(a => $"{a.Key}: {before.GetValueOrDefault(a.Key)} → {a.Value}"));
}
