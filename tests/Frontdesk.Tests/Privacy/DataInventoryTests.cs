using System.Text.RegularExpressions;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Platform;
using Npgsql;

namespace Frontdesk.Tests.Privacy;

/// <summary>
/// docs/data-inventory.md is the source of truth for which columns may hold what (issue 13): every
/// text, jsonb, bytea (and text array or tsvector) column of every table in schema public must have a
/// complete row there, and nothing may be listed that the schema no longer has. A migration that adds
/// such a column fails this test until its author says what the column holds and how export, erasure
/// and retention treat it.
/// </summary>
public partial class DataInventoryTests
{
    public sealed record Entry(string Table, string Column, string Holds, string Personal, string Stored, string Export, string Erasure, string Retention);

    public static string InventoryPath => Path.Combine(PgTapTests.RepoRoot(), "docs", "data-inventory.md");

    /// <summary>The inventory's rows: <c>| `table.column` | holds | personal | stored | export | erasure | retention |</c>.</summary>
    public static IReadOnlyList<Entry> Inventory()
    {
        var entries = new List<Entry>();
        // Rows start at the beginning of a line (the indented example in the file is not one).
        foreach (var (line, number) in File.ReadLines(InventoryPath).Select((l, i) => (l.TrimEnd(), i + 1)))
        {
            if (!line.StartsWith("| `", StringComparison.Ordinal)) continue;
            var cells = line.Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            var name = ColumnName().Match(cells[0]);
            Assert.True(name.Success, $"data-inventory.md line {number}: the first cell must be `table.column`");
            Assert.True(cells.Length == 7, $"data-inventory.md line {number} ({cells[0]}): 7 cells expected (column, holds, personal, stored, export, erasure, retention), found {cells.Length}");
            Assert.True(cells.All(c => c.Length > 0), $"data-inventory.md line {number} ({cells[0]}): every cell must say something");
            Assert.True(cells[2] is "yes" or "no" or "staff", $"data-inventory.md line {number} ({cells[0]}): personal is yes, no or staff");
            entries.Add(new Entry(name.Groups[1].Value, name.Groups[2].Value, cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]));
        }
        return entries;
    }

    public sealed record CatalogColumn(string Table, string Column, string Type);

    /// <summary>Every column of every table in schema public whose type can hold text or bytes.</summary>
    public static async Task<IReadOnlyList<CatalogColumn>> CatalogAsync()
    {
        await using var conn = await TestApp.AdminConnectionAsync();
        await using var cmd = new NpgsqlCommand("""
            select c.relname, a.attname, t.typname
            from pg_attribute a
            join pg_class c on c.oid = a.attrelid
            join pg_namespace n on n.oid = c.relnamespace
            join pg_type t on t.oid = a.atttypid
            left join pg_type e on e.oid = t.typelem and t.typcategory = 'A'
            where n.nspname = 'public' and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
              and (t.typcategory = 'S' or t.typname in ('json', 'jsonb', 'bytea', 'tsvector', 'xml')
                   or e.typcategory = 'S' or e.typname in ('json', 'jsonb', 'bytea'))
            order by 1, 2
            """, conn);
        var columns = new List<CatalogColumn>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) columns.Add(new CatalogColumn(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        return columns;
    }

    [Fact]
    public async Task Every_text_jsonb_and_bytea_column_of_every_clinic_table_is_in_the_data_inventory()
    {
        var inventory = Inventory();
        var catalog = await CatalogAsync();
        Assert.NotEmpty(catalog);

        var listed = inventory.Select(e => $"{e.Table}.{e.Column}").ToList();
        Assert.True(listed.Count == listed.Distinct().Count(), "listed twice: " + string.Join(", ", listed.GroupBy(x => x).Where(g => g.Count() > 1).Select(g => g.Key)));
        var inSchema = catalog.Select(c => $"{c.Table}.{c.Column}").ToHashSet();
        var missing = inSchema.Except(listed).Order().ToList();
        Assert.True(missing.Count == 0,
            "Columns that can hold text or bytes but are not in docs/data-inventory.md — add a row saying what each holds, " +
            "whether it is personal, how it is stored, exported, erased and retained:\n  " + string.Join("\n  ", missing));
        var stale = listed.Except(inSchema).Order().ToList();
        Assert.True(stale.Count == 0, "docs/data-inventory.md lists columns the schema does not have:\n  " + string.Join("\n  ", stale));
    }

    [Fact]
    public async Task Every_column_the_inventory_calls_sealed_is_bytea_and_every_personal_plaintext_column_says_why()
    {
        var types = (await CatalogAsync()).ToDictionary(c => $"{c.Table}.{c.Column}", c => c.Type);
        foreach (var e in Inventory())
        {
            var key = $"{e.Table}.{e.Column}";
            if (e.Stored.StartsWith("sealed", StringComparison.Ordinal))
                Assert.True(types.GetValueOrDefault(key) == "bytea", $"{key} is listed as sealed but is {types.GetValueOrDefault(key)}");
            if (e.Personal == "yes" && e.Stored.StartsWith("plaintext", StringComparison.Ordinal))
                Assert.True(e.Stored.Length > "plaintext".Length + 5, $"{key}: a personal column stored in plaintext must say why in its 'stored' cell");
        }
    }

    [GeneratedRegex(@"^`([a-z0-9_]+)\.([a-z0-9_]+)`$")]
    private static partial Regex ColumnName();
}
