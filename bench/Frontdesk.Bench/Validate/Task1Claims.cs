using System.Net;

namespace Frontdesk.Bench.Validate;

/// <summary>Seed Task 1: atomic slot locking.</summary>
public static class Task1Claims
{
    public static async Task RunAsync(ValidationRun run)
    {
        var s = new Section("task1", "Task 1: Atomic Slot Locking");
        run.Report.Sections.Add(s);
        run.Progress("▶ Task 1: 5 concurrent claims of one slot …");
        var c = await run.CreateClinicAsync("t1", slots: 260, patients: 5);
        var token = run.Api.Token(c.Id, "receptionist");

        var results = await Task.WhenAll(Enumerable.Range(0, 5).Select(i =>
            run.Api.PostAsync("/functions/v1/claim_slot_atomic", token, new { slotId = c.Slots[0], patientId = c.Patients[i], clinicId = c.Id })));
        for (var i = 0; i < results.Length; i++)
            s.Block.Add(results[i].Status switch
            {
                HttpStatusCode.OK => $"Request {i + 1}: ✅ 200 OK (winner)",
                HttpStatusCode.Conflict => $"Request {i + 1}: ❌ 409 Conflict",
                var other => $"Request {i + 1}: ⚠ {(int)other} {other}",
            });
        var ok = results.Count(r => r.Status == HttpStatusCode.OK);
        var conflicts = results.Count(r => r.Status == HttpStatusCode.Conflict);
        var withAlternatives = results.Count(r => r.Status == HttpStatusCode.Conflict && Run.Has(r, "alternatives") && ValidationRun.Count(r.Body.GetProperty("alternatives")) > 0);

        var data = await run.Api.GetAsync("/functions/v1/get_clinic_data", run.Api.Token(c.Id, "admin"));
        var bookingsForSlot = data.Ok
            ? data.Body.GetProperty("bookings").EnumerateArray().Count(b => b.GetProperty("slotId").GetGuid() == c.Slots[0] && b.GetProperty("status").GetString() != "cancelled")
            : -1;
        s.Block.Add("");
        s.Block.Add($"Database state: {bookingsForSlot} booking{(bookingsForSlot == 1 ? "" : "s")}, {(bookingsForSlot == 1 ? "no duplicates" : "DUPLICATES")}");

        s.Check("5 concurrent calls, 1 success, 4 conflicts", ok == 1 && conflicts == 4, $"{ok} × 200, {conflicts} × 409 ({withAlternatives} with alternatives)");
        s.Check("Database has only 1 booking", bookingsForSlot == 1, $"{bookingsForSlot} live booking(s) for the slot (get_clinic_data)");

        // The race again, 20 rounds on fresh slots: a race window would show up as two winners.
        run.Progress("  20 more rounds of the race …");
        var roundsWithOneWinner = 0;
        for (var round = 1; round <= 20; round++)
        {
            var rr = await Task.WhenAll(Enumerable.Range(0, 5).Select(i =>
                run.Api.PostAsync("/functions/v1/claim_slot_atomic", token, new { slotId = c.Slots[round], patientId = c.Patients[i], clinicId = c.Id })));
            if (rr.Count(r => r.Status == HttpStatusCode.OK) == 1 && rr.Count(r => r.Status == HttpStatusCode.Conflict) == 4) roundsWithOneWinner++;
        }
        s.Check("No race condition detected", roundsWithOneWinner == 20, $"{roundsWithOneWinner}/20 further rounds had exactly one winner");

        // Latency of single claims (distinct slots, 10 concurrent).
        run.Progress("  claim latency over 200 claims …");
        var samples = new List<double>();
        var next = 20;
        await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < 221)
            {
                var r = await run.Api.PostAsync("/functions/v1/claim_slot_atomic", token, new { slotId = c.Slots[i], patientId = c.Patients[i % 5], clinicId = c.Id });
                if (r.Status == HttpStatusCode.OK) lock (samples) samples.Add(r.Ms);
            }
        }));
        run.Report.Samples["claim"] = samples;
        var p95 = Stats.Percentile(samples, 95);
        s.Metrics["claimP50Ms"] = Stats.Percentile(samples, 50);
        s.Metrics["claimP95Ms"] = p95;
        s.Metrics["claimP99Ms"] = Stats.Percentile(samples, 99);
        s.Check("< 100ms atomic operation", samples.Count == 200 && p95 < 100, $"{Stats.Summary(samples)} at 10 concurrent, over HTTP", timing: true);
    }
}

static class Run
{
    public static bool Has(ApiResult r, string property) =>
        r.Body.ValueKind == System.Text.Json.JsonValueKind.Object && r.Body.TryGetProperty(property, out _);
}
