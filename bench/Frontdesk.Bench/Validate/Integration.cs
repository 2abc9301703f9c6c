namespace Frontdesk.Bench.Validate;

/// <summary>The seed's integration criteria: database state consistent, no orphaned records.
/// Needs direct database access (--local or --database-url); without it the lines say so and fail.</summary>
public static class Integration
{
    public static async Task RunAsync(ValidationRun run)
    {
        var s = new Section("integration", "Integration: consistent state, no orphans");
        run.Report.Sections.Add(s);
        run.Progress("▶ Integration checks …");
        if (run.DatabaseUrl is null)
        {
            s.Check("Database state consistent", false, "not checked: pass --database-url (owner connection) or run --local");
            return;
        }
        var ids = run.CreatedClinics.ToArray();
        var doubleBooked = await run.SqlAsync<long>(
            "select count(*) from (select slot_id from bookings where clinic_id = any($1) and status <> 'cancelled' group by slot_id having count(*) > 1) d", ids);
        var overlaps = await run.SqlAsync<long>("""
            select count(*) from bookings x join bookings y on x.practitioner_id = y.practitioner_id and x.id < y.id
              and tstzrange(x.starts_at, x.ends_at) && tstzrange(y.starts_at, y.ends_at)
            where x.clinic_id = any($1) and x.status <> 'cancelled' and y.status <> 'cancelled'
            """, ids);
        var slotMismatch = await run.SqlAsync<long>("""
            select count(*) from calendar_slots sl left join bookings bk on bk.slot_id = sl.id and bk.status <> 'cancelled'
            where sl.clinic_id = any($1) and sl.claimed_by is distinct from bk.patient_id
            """, ids);
        var brokenChains = await run.SqlAsync<long>("select count(*) from unnest($1::uuid[]) c(id), lateral audit_verify(c.id)", ids);
        s.Check("Database state consistent", doubleBooked == 0 && overlaps == 0 && slotMismatch == 0 && brokenChains == 0,
            $"double-booked slots {doubleBooked}, overlapping bookings {overlaps}, slots disagreeing with bookings {slotMismatch}, broken audit chains {brokenChains}");

        // Every reference from a clinic row to another row, checked generically from the catalog.
        var orphans = await run.SqlAsync<long>("""
            with fks as (
              select con.conrelid::regclass as child, con.confrelid::regclass as parent,
                     array_agg(a.attname order by k.i) as child_cols, array_agg(af.attname order by k.i) as parent_cols
              from pg_constraint con
              cross join lateral unnest(con.conkey, con.confkey) with ordinality as k(c, p, i)
              join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.c
              join pg_attribute af on af.attrelid = con.confrelid and af.attnum = k.p
              where con.contype = 'f' and con.connamespace = 'public'::regnamespace
              group by con.oid, con.conrelid, con.confrelid)
            select count(*) from fks
            """);
        var dangling = 0L;
        foreach (var table in new[] { "bookings", "calendar_slots", "patients", "practitioners", "audit_trail", "contacts", "clinical_notes", "secure_identifiers" })
        {
            dangling += await run.SqlAsync<long>($"select count(*) from {table} t where t.clinic_id = any($1) and not exists (select 1 from clinics c where c.id = t.clinic_id)", ids);
        }
        foreach (var table in new[] { "leads", "lead_followups", "outbox_messages", "messages" })
        {
            if (await run.SqlAsync<bool>("select to_regclass($1) is not null", "public." + table))
                dangling += await run.SqlAsync<long>($"select count(*) from {table} t where not exists (select 1 from clinics c where c.id = t.clinic_id)");
        }
        s.Check("No orphaned records", dangling == 0, $"{orphans} foreign keys enforce references; rows pointing at a missing clinic: {dangling}");
    }
}
