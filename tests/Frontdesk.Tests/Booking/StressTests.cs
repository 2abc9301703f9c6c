using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Booking;

public class StressTests
{
    /// <summary>Regression guard for double-booking under contention (Cal.com's open race issue):
    /// 200 clients, 2,000 claims over 10 hot slots, with moves and cancels interleaved.</summary>
    [Fact]
    public async Task Contended_claims_moves_and_cancels_never_double_book()
    {
        var c = await TestClinic.CreateAsync(slots: 10, patients: 50);
        var token = TestApp.Token(Frontdesk.Platform.RequestClaims.ForClinic(c.Id, "stress", "receptionist"));
        var outcomes = new System.Collections.Concurrent.ConcurrentBag<(string Kind, HttpStatusCode Status, Guid? BookingId)>();
        var rng = new Random(42);
        var plan = Enumerable.Range(0, 2000).Select(i => (Slot: rng.Next(10), Patient: rng.Next(50), Op: rng.Next(10))).ToArray();
        var next = -1;

        async Task Worker()
        {
            using var client = TestApp.Client(token);
            int i;
            while ((i = Interlocked.Increment(ref next)) < plan.Length)
            {
                var (slot, patient, op) = plan[i];
                var r = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic",
                    new { slotId = c.SlotIds[slot], patientId = c.PatientIds[patient], clinicId = c.Id });
                var body = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
                Guid? booking = r.StatusCode == HttpStatusCode.OK ? body.GetProperty("bookingId").GetGuid() : null;
                outcomes.Add(("claim", r.StatusCode, booking));
                if (booking is null) continue;
                if (op == 0)
                {
                    var d = await client.DeleteAsync($"/api/bookings/{c.Id}/{booking}");
                    outcomes.Add(("cancel", d.StatusCode, booking));
                }
                else if (op == 1)
                {
                    var m = await client.PutAsJsonAsync($"/api/bookings/{c.Id}/{booking}", new { slotId = c.SlotIds[rng.Next(10)] });
                    outcomes.Add(("move", m.StatusCode, booking));
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Task.Run(Worker)));

        var claims = outcomes.Where(o => o.Kind == "claim").ToList();
        Assert.Equal(2000, claims.Count);
        Assert.All(claims, o => Assert.Contains(o.Status, new[] { HttpStatusCode.OK, HttpStatusCode.Conflict }));
        Assert.All(outcomes.Where(o => o.Kind != "claim"), o => Assert.Contains(o.Status, new[] { HttpStatusCode.OK, HttpStatusCode.NoContent, HttpStatusCode.Conflict, HttpStatusCode.NotFound }));
        Assert.Contains(claims, o => o.Status == HttpStatusCode.OK);
        Assert.Contains(claims, o => o.Status == HttpStatusCode.Conflict);

        // Invariants, in SQL.
        Assert.Equal(0L, await TestApp.ScalarAsync<long>(
            "select count(*) from (select slot_id from bookings where clinic_id = $1 and status <> 'cancelled' group by slot_id having count(*) > 1) x", c.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("""
            select count(*) from bookings a join bookings b
              on a.practitioner_id = b.practitioner_id and a.id < b.id
             and tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
            where a.clinic_id = $1 and a.status <> 'cancelled' and b.status <> 'cancelled'
            """, c.Id));
        // Slot state agrees with bookings: claimed exactly when it has a live booking, by that patient.
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("""
            select count(*) from calendar_slots s
            left join bookings b on b.slot_id = s.id and b.status <> 'cancelled'
            where s.clinic_id = $1 and (s.claimed_by is distinct from b.patient_id)
            """, c.Id));
        // Every 200 is a stored booking; no booking exists that no 200 reported.
        var reported = claims.Where(o => o.BookingId is not null).Select(o => o.BookingId!.Value).ToHashSet();
        var stored = await TestApp.ScalarAsync<Guid[]>("select coalesce(array_agg(id), '{}') from bookings where clinic_id = $1", c.Id);
        Assert.Equal(reported.OrderBy(x => x), stored!.OrderBy(x => x));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_verify($1)", c.Id));
    }

    [Fact]
    public async Task Two_moves_into_the_same_free_slot_one_wins_and_the_loser_is_unchanged()
    {
        for (var round = 0; round < 5; round++)
        {
            var c = await TestClinic.CreateAsync(slots: 3, patients: 2);
            using var client = TestApp.As(c.Id, "receptionist");
            var b0 = (await TestClinic.Json(await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = c.SlotIds[0], patientId = c.PatientIds[0], clinicId = c.Id }))).GetProperty("bookingId").GetGuid();
            var b1 = (await TestClinic.Json(await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = c.SlotIds[1], patientId = c.PatientIds[1], clinicId = c.Id }))).GetProperty("bookingId").GetGuid();
            var results = await Task.WhenAll(new[] { b0, b1 }.Select(async b =>
            {
                using var cl = TestApp.As(c.Id, "receptionist");
                var r = await cl.PutAsJsonAsync($"/api/bookings/{c.Id}/{b}", new { slotId = c.SlotIds[2] });
                return (Booking: b, r.StatusCode);
            }));
            Assert.Single(results, r => r.StatusCode == HttpStatusCode.OK);
            var loser = Assert.Single(results, r => r.StatusCode == HttpStatusCode.Conflict);
            var winner = results.Single(r => r.StatusCode == HttpStatusCode.OK);
            Assert.Equal(c.SlotIds[2], await TestApp.ScalarAsync<Guid>("select slot_id from bookings where id = $1", winner.Booking));
            var loserOriginal = loser.Booking == b0 ? c.SlotIds[0] : c.SlotIds[1];
            Assert.Equal(loserOriginal, await TestApp.ScalarAsync<Guid>("select slot_id from bookings where id = $1", loser.Booking));
            Assert.NotNull(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", loserOriginal));
            var winnerOriginal = winner.Booking == b0 ? c.SlotIds[0] : c.SlotIds[1];
            Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", winnerOriginal));
        }
    }

    [Fact]
    public async Task An_overlapping_booking_inserted_directly_in_SQL_is_rejected_by_the_constraint()
    {
        var c = await TestClinic.CreateAsync(slots: 2, patients: 2);
        using var client = TestApp.As(c.Id, "receptionist");
        await TestClinic.Json(await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = c.SlotIds[0], patientId = c.PatientIds[0], clinicId = c.Id }));
        var e = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => TestApp.ExecAsync("""
            insert into bookings (clinic_id, slot_id, patient_id, practitioner_id, starts_at, ends_at)
            select clinic_id, $2, $3, practitioner_id, starts_at + interval '5 minutes', ends_at + interval '5 minutes'
            from bookings where clinic_id = $1
            """, c.Id, c.SlotIds[1], c.PatientIds[1]));
        Assert.Equal(Npgsql.PostgresErrorCodes.ExclusionViolation, e.SqlState);
    }
}
