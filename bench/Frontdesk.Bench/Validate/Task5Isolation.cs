using System.Net;

namespace Frontdesk.Bench.Validate;

/// <summary>Seed Task 5: multi-tenant silo validation.</summary>
public static class Task5Isolation
{
    public static async Task RunAsync(ValidationRun run)
    {
        var s = new Section("task5", "Task 5: Multi-Tenant Silo Validation");
        run.Report.Sections.Add(s);
        run.Progress("▶ Task 5: clinic A's token against clinic B …");
        var a = await run.CreateClinicAsync("t5a", slots: 4, patients: 2);
        var b = await run.CreateClinicAsync("t5b", slots: 4, patients: 2);
        var aBooking = (await Api.Expect(run.Api.PostAsync("/functions/v1/claim_slot_atomic", run.Api.Token(a.Id, "receptionist"),
            new { slotId = a.Slots[0], patientId = a.Patients[0], clinicId = a.Id }), "claim in A")).Id("bookingId");
        var bBooking = (await Api.Expect(run.Api.PostAsync("/functions/v1/claim_slot_atomic", run.Api.Token(b.Id, "receptionist"),
            new { slotId = b.Slots[0], patientId = b.Patients[0], clinicId = b.Id }), "claim in B")).Id("bookingId");
        var aToken = run.Api.Token(a.Id, "admin", "clinic_a_user");

        var attempts = new (string Label, Task<ApiResult> Call)[]
        {
            ($"GET /api/bookings/{{B}}/{{booking}}", run.Api.GetAsync($"/api/bookings/{b.Id}/{bBooking}", aToken)),
            ($"PUT /api/bookings/{{B}}/{{booking}}", run.Api.SendAsync(HttpMethod.Put, $"/api/bookings/{b.Id}/{bBooking}", aToken, new { slotId = b.Slots[1] })),
            ($"DELETE /api/patients/{{B}}/{{patient}}", run.Api.SendAsync(HttpMethod.Delete, $"/api/patients/{b.Id}/{b.Patients[0]}", aToken)),
            ($"DELETE /api/bookings/{{B}}/{{booking}}", run.Api.SendAsync(HttpMethod.Delete, $"/api/bookings/{b.Id}/{bBooking}", aToken)),
        };
        var results = new List<(string Label, ApiResult R)>();
        foreach (var (label, call) in attempts) results.Add((label, await call));
        s.Block.Add("Clinic A JWT + Clinic B data:");
        foreach (var (label, r) in results) s.Block.Add($"  {label}: {(r.Status == HttpStatusCode.Forbidden ? "❌ 403 Forbidden ✅" : $"⚠ {(int)r.Status}")}");

        var all403 = results.All(r => r.R.Status == HttpStatusCode.Forbidden);
        s.Check("Clinic A JWT cannot access Clinic B data", all403, $"{results.Count(r => r.R.Status == HttpStatusCode.Forbidden)}/{results.Count} attempts refused");
        s.Check("403 Forbidden returned", all403 && results.All(r => r.R.Text.Contains("cross-tenant", StringComparison.Ordinal)),
            string.Join(", ", results.Select(r => (int)r.R.Status)) + " (problem type cross-tenant)");

        var leaked = results.Any(r => r.R.Text.Contains(bBooking.ToString(), StringComparison.OrdinalIgnoreCase) || r.R.Text.Contains(b.Patients[0].ToString(), StringComparison.OrdinalIgnoreCase));
        var bState = await run.Api.GetAsync($"/api/bookings/{b.Id}/{bBooking}", run.Api.Token(b.Id, "admin"));
        var bUnchanged = bState.Ok && bState.Body.GetProperty("status").GetString() == "confirmed" && bState.Body.GetProperty("slotId").GetGuid() == b.Slots[0];
        var trail = await run.Api.GetAsync($"/api/clinics/{a.Id}/audit?limit=100", aToken);
        var audited = trail.Ok ? trail.Body.EnumerateArray().Count(e => e.GetProperty("action").GetString() == "cross_tenant_denied") : 0;
        s.Block.Add($"  No data leaked: {(!leaked && bUnchanged ? "✅" : "❌")} · attempts in A's audit trail: {audited}");

        // The database layer on its own: get_clinic_data has no clinic filter in its SQL; RLS is the filter.
        var data = await run.Api.GetAsync("/functions/v1/get_clinic_data", aToken);
        var foreignRows = data.Ok ? data.Body.GetProperty("bookings").EnumerateArray().Count(x => x.GetProperty("clinicId").GetGuid() != a.Id) : -1;
        var ownRows = data.Ok ? data.Body.GetProperty("bookings").EnumerateArray().Count(x => x.GetProperty("id").GetGuid() == aBooking) : 0;
        long? forcedTables = run.DatabaseUrl is null ? null : await run.SqlAsync<long>("""
            select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind = 'r' and not (c.relrowsecurity and c.relforcerowsecurity)
              and exists (select 1 from pg_attribute x where x.attrelid = c.oid and x.attname = 'clinic_id')
            """);
        s.Check("RLS enforced at database level", foreignRows == 0 && ownRows == 1 && forcedTables is null or 0,
            $"get_clinic_data (RLS-only filter) as A: {ownRows} own, {foreignRows} foreign booking(s)" +
            (forcedTables is null ? "" : $"; clinic tables without FORCE RLS: {forcedTables}"));

        run.Progress("  100 concurrent mixed queries …");
        var tokens = new Dictionary<Guid, string> { [a.Id] = run.Api.Token(a.Id, "receptionist"), [b.Id] = run.Api.Token(b.Id, "receptionist") };
        var bookings = new Dictionary<Guid, Guid> { [a.Id] = aBooking, [b.Id] = bBooking };
        async Task<(bool Cross, Guid Target, ApiResult r)[]> Burst() => await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            var caller = i % 2 == 0 ? a.Id : b.Id;
            var target = i / 2 % 2 == 0 ? a.Id : b.Id;
            var r = await run.Api.GetAsync($"/api/bookings/{target}/{bookings[target]}", tokens[caller]);
            return (Cross: caller != target, Target: target, r);
        }));
        // One unmeasured burst first: it opens the HTTP and database connections a running
        // service already has, so the measured burst shows query time, not connection set-up.
        var warm = await Burst();
        var mixed = await Burst();
        var deniedA = await DeniedAsync(run, a.Id, aToken);
        var deniedB = await DeniedAsync(run, b.Id, run.Api.Token(b.Id, "admin"));
        var expectedDenials = results.Count + 2 * 25 + 2 * 25;   // the four above, and 25 per clinic per burst
        var crossSuccess = mixed.Concat(warm).Count(m => m.Cross && m.r.Ok);
        var crossLeaks = mixed.Concat(warm).Count(m => m.Cross && m.r.Text.Contains(bookings[m.Target].ToString(), StringComparison.OrdinalIgnoreCase));
        var sameOk = mixed.Count(m => !m.Cross && m.r.Ok);
        var times = mixed.Select(m => m.r.Ms).ToList();
        // The seed's "query time": what the server spent (Server-Timing), without client-side queueing
        // of 100 simultaneous requests; the whole round trip is reported beside it.
        var server = mixed.Where(m => m.r.ServerMs is not null).Select(m => m.r.ServerMs!.Value).ToList();
        s.Metrics["mixedP95Ms"] = Stats.Percentile(times, 95);
        s.Metrics["mixedServerP95Ms"] = Stats.Percentile(server, 95);
        s.Check("100 concurrent queries isolated", crossSuccess == 0 && sameOk == 50, $"{sameOk}/50 same-clinic succeeded, {crossSuccess}/50 cross-clinic succeeded; {Stats.Summary(times)}");
        s.Check("0% data leakage", !leaked && bUnchanged && crossLeaks == 0 && deniedA + deniedB == expectedDenials,
            $"no foreign ids in any of {results.Count + 100} refusals, B's booking unchanged: {bUnchanged}; every refusal audited in the caller's trail: {deniedA} (A) + {deniedB} (B) of {expectedDenials}");
        s.Check("< 50ms query time (100 concurrent)", server.Count == mixed.Length && Stats.Percentile(server, 95) < 50,
            $"server time {Stats.Summary(server)}; whole HTTP round trip p95 {Stats.Percentile(times, 95):F1} ms", timing: true);
    }

    static async Task<int> DeniedAsync(ValidationRun run, Guid clinic, string token)
    {
        var trail = await run.Api.GetAsync($"/api/clinics/{clinic}/audit?limit=1000", token);
        return trail.Ok ? trail.Body.EnumerateArray().Count(e => e.GetProperty("action").GetString() == "cross_tenant_denied") : -1;
    }
}
