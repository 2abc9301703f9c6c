using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Platform;

/// <summary>
/// Issue 16, "past one database": the schema must shard by clinic_id on Citus. Citus requires the
/// distribution column in every primary key, unique index and exclusion constraint of a distributed
/// table, and in both sides of every foreign key between distributed tables. This reads the catalog,
/// so it covers every table, including tables added after it was written: a table in public is a
/// distributed clinic table when it has clinic_id, and otherwise must be listed below with its reason.
/// </summary>
public class ShardingReadinessTests
{
    /// <summary>Tables deliberately not distributed by clinic_id (reference tables, copied to every
    /// node), and why. Every other table in public must have clinic_id and pass the rules below.</summary>
    public static readonly IReadOnlyDictionary<string, string> NotDistributed = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["clinics"] = "a clinic is its own tenant (its id is every other table's clinic_id), and webhooks find a clinic by its "
                      + "Vapi secret, assistant or phone number across all clinics, which needs those unique indexes whole",
        ["calendar_links"] = "a global registry: one Google calendar may be linked by one practitioner of all clinics together "
                             + "(issue 14's proof rule), a uniqueness across clinics (primary key calendar_key)",
    };

    /// <summary>Foreign keys from a reference table to a distributed one (Citus refuses them), and
    /// what replaces each when the schema moves to Citus.</summary>
    public static readonly IReadOnlyDictionary<string, string> ReferenceForeignKeys = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["calendar_links.calendar_links_clinic_id_practitioner_id_fkey"] = "its on-delete cascade becomes an after-delete trigger on "
            + "practitioners, beside calendar_link_register, which already keeps the registry in step with practitioners.calendar_id",
    };

    [Fact]
    public async Task Every_clinic_table_keys_unique_indexes_exclusions_and_foreign_keys_include_clinic_id()
    {
        var problems = await TestApp.ListAsync<string>("""
            with tables as (
              select c.oid, c.relname::text as name, c.relreplident,
                     -- Only distributed tables have a distribution column; listed ones are reference tables.
                     case when not (c.relname = any(@Exceptions::text[])) then
                       (select a.attnum from pg_attribute a where a.attrelid = c.oid and a.attname = 'clinic_id' and not a.attisdropped)
                     end as clinic_col
              from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
                and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')   -- extension tables
            )
            -- A table that is neither a clinic table nor a listed exception.
            select t.name || ': no clinic_id column (distribute it, or list it as a reference/local table with a reason)'
              from tables t where t.clinic_col is null and not (t.name = any(@Exceptions::text[]))
            union all
            -- Citus moves shards by logical replication: updates and deletes need a replica identity.
            select t.name || ': neither a primary key nor replica identity full' from tables t
             where t.clinic_col is not null and t.relreplident <> 'f'
               and not exists (select 1 from pg_index i where i.indrelid = t.oid and i.indisprimary)
            union all
            -- Primary keys and every unique index (constraint or not, partial or not).
            select t.name || ': ' || case when i.indisprimary then 'primary key ' else 'unique index ' end
                   || ic.relname || ' leaves out clinic_id'
              from tables t join pg_index i on i.indrelid = t.oid join pg_class ic on ic.oid = i.indexrelid
             where t.clinic_col is not null and i.indisunique
               and not (t.clinic_col = any(i.indkey::int2[]))
            union all
            -- Exclusion constraints: clinic_id compared with =.
            select t.name || ': exclusion constraint ' || x.conname || ' leaves out clinic_id with ='
              from tables t join pg_constraint x on x.conrelid = t.oid and x.contype = 'x'
             where t.clinic_col is not null
               and not exists (select 1 from unnest(x.conkey, x.conexclop) u(col, op)
                                join pg_operator o on o.oid = u.op
                                where u.col = t.clinic_col and o.oprname = '=')
            union all
            -- Foreign keys from a clinic table to another clinic table: clinic_id on both sides, paired.
            select t.name || ': foreign key ' || f.conname || ' to ' || r.name || ' leaves out clinic_id'
              from tables t join pg_constraint f on f.conrelid = t.oid and f.contype = 'f'
              join tables r on r.oid = f.confrelid
             where t.clinic_col is not null and r.clinic_col is not null
               and not exists (select 1 from unnest(f.conkey, f.confkey) u(col, ref)
                                where u.col = t.clinic_col and u.ref = r.clinic_col)
            union all
            -- A reference table cannot point at a distributed one (unless listed with its replacement).
            select t.name || ': reference table with foreign key ' || f.conname || ' to clinic table ' || r.name
              from tables t join pg_constraint f on f.conrelid = t.oid and f.contype = 'f'
              join tables r on r.oid = f.confrelid
             where t.clinic_col is null and r.clinic_col is not null
               and not (t.name || '.' || f.conname = any(@Waived::text[]))
            order by 1
            """.Replace("@Exceptions", "$1", StringComparison.Ordinal).Replace("@Waived", "$2", StringComparison.Ordinal),
            new object[] { NotDistributed.Keys.ToArray(), ReferenceForeignKeys.Keys.ToArray() });
        Assert.True(problems.Count == 0, "Not shardable by clinic_id on Citus:\n  " + string.Join("\n  ", problems));
    }

    [Fact]
    public async Task Every_listed_exception_names_a_table_and_a_foreign_key_that_exist()
    {
        var tables = await TestApp.ListAsync<string>("""
            select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind in ('r', 'p')
            """);
        Assert.All(NotDistributed.Keys, t => Assert.Contains(t, tables));
        var foreignKeys = await TestApp.ListAsync<string>("""
            select c.conrelid::regclass::text || '.' || c.conname from pg_constraint c
            join pg_namespace n on n.oid = c.connamespace where n.nspname = 'public' and c.contype = 'f'
            """);
        Assert.All(ReferenceForeignKeys.Keys, fk => Assert.Contains(fk, foreignKeys));
        Assert.All(NotDistributed.Values.Concat(ReferenceForeignKeys.Values), reason => Assert.True(reason.Length > 40, "every exception says why"));
    }
}
