using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Booking;

public class ClaimTests
{
    static object Claim(TestClinic c, int slot, int patient) => new { slotId = c.SlotIds[slot], patientId = c.PatientIds[patient], clinicId = c.Id };

    [Fact]
    public async Task Five_concurrent_claims_of_one_slot_give_one_200_and_four_409_with_alternatives()
    {
        var c = await TestClinic.CreateAsync(slots: 6, patients: 5);
        var responses = await Task.WhenAll(Enumerable.Range(0, 5).Select(async i =>
        {
            using var client = TestApp.As(c.Id, "receptionist");
            var r = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", Claim(c, 0, i));
            return (r.StatusCode, Body: JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement);
        }));

        var winners = responses.Where(r => r.StatusCode == HttpStatusCode.OK).ToList();
        var losers = responses.Where(r => r.StatusCode == HttpStatusCode.Conflict).ToList();
        Assert.Single(winners);
        Assert.Equal(4, losers.Count);
        Assert.True(winners[0].Body.GetProperty("success").GetBoolean());
        var bookingId = winners[0].Body.GetProperty("bookingId").GetGuid();
        foreach (var (_, body) in losers)
        {
            Assert.Equal(409, body.GetProperty("status").GetInt32());
            Assert.Equal("Slot already claimed", body.GetProperty("error").GetString());
            Assert.Equal("Sorry, that slot was just taken. How about these alternatives?", body.GetProperty("message").GetString());
            var alts = body.GetProperty("alternatives").EnumerateArray().ToList();
            Assert.Equal(3, alts.Count);
            Assert.DoesNotContain(alts, a => a.GetProperty("slotId").GetGuid() == c.SlotIds[0]);
            // Nearest first: the next slots of the same practitioner, in order.
            Assert.Equal(c.SlotIds.Skip(1).Take(3), alts.Select(a => a.GetProperty("slotId").GetGuid()));
            Assert.All(alts, a => Assert.False(string.IsNullOrEmpty(a.GetProperty("spoken").GetString())));
        }
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from bookings where slot_id = $1", c.SlotIds[0]));
        Assert.Equal(bookingId, await TestApp.ScalarAsync<Guid>("select id from bookings where slot_id = $1", c.SlotIds[0]));
    }

    [Fact]
    public async Task The_same_patient_retrying_a_claim_gets_the_same_200()
    {
        var c = await TestClinic.CreateAsync(slots: 2, patients: 1);
        using var client = TestApp.As(c.Id, "receptionist");
        var first = await TestClinic.Json(await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", Claim(c, 0, 0)));
        var retry = await TestClinic.Json(await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", Claim(c, 0, 0)));
        Assert.Equal(first.GetProperty("bookingId").GetGuid(), retry.GetProperty("bookingId").GetGuid());
        Assert.Equal(first.GetProperty("claimedAt").GetDateTimeOffset(), retry.GetProperty("claimedAt").GetDateTimeOffset());
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from bookings where slot_id = $1", c.SlotIds[0]));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'created' and entity = 'booking'", c.Id));
    }

    [Fact]
    public async Task Unknown_slot_is_404_not_success_and_other_clinics_slot_is_403()
    {
        var c = await TestClinic.CreateAsync(slots: 1, patients: 1);
        var other = await TestClinic.CreateAsync(slots: 1, patients: 1);
        using var client = TestApp.As(c.Id, "receptionist");
        var unknown = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = Guid.NewGuid(), patientId = c.PatientIds[0], clinicId = c.Id });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(Problems.NotFound, (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        // Another clinic's slot named with our clinic id: not found in our clinic.
        var foreignSlot = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = other.SlotIds[0], patientId = c.PatientIds[0], clinicId = c.Id });
        Assert.Equal(HttpStatusCode.NotFound, foreignSlot.StatusCode);
        // Another clinic named in the body: 403.
        var foreignClinic = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", Claim(other, 0, 0));
        Assert.Equal(HttpStatusCode.Forbidden, foreignClinic.StatusCode);
        // Another clinic's patient: not found.
        var foreignPatient = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = c.SlotIds[0], patientId = other.PatientIds[0], clinicId = c.Id });
        Assert.Equal(HttpStatusCode.NotFound, foreignPatient.StatusCode);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id in ($1, $2)", c.Id, other.Id));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", other.SlotIds[0]));
    }

    [Fact]
    public async Task Malformed_claims_are_400_and_store_nothing()
    {
        var c = await TestClinic.CreateAsync(slots: 1, patients: 1);
        using var client = TestApp.As(c.Id, "receptionist");
        foreach (var body in new object[]
        {
            new { slotId = Guid.Empty, patientId = c.PatientIds[0], clinicId = c.Id },
            new { slotId = c.SlotIds[0], patientId = c.PatientIds[0], clinicId = c.Id, holder = new string('h', 500) },
        })
        {
            var r = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", body);
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Equal(Problems.Validation, (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        }
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1", c.Id));
    }

    [Fact]
    public async Task A_live_hold_blocks_others_lets_the_holder_claim_and_expires_without_cleanup()
    {
        var c = await TestClinic.CreateAsync(slots: 4, patients: 3);
        using var client = TestApp.As(c.Id, "receptionist");
        var hold = await TestClinic.Json(await client.PostAsJsonAsync("/functions/v1/hold_slot",
            new { slotId = c.SlotIds[0], clinicId = c.Id, holder = "call-123" }));
        var expires = hold.GetProperty("holdExpiresAt").GetDateTimeOffset();
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(6)); // default 5 minutes

        // Someone else: 409 with alternatives, and the held slot is not listed as available.
        var blocked = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", Claim(c, 0, 1));
        Assert.Equal(HttpStatusCode.Conflict, blocked.StatusCode);
        Assert.NotEmpty((await blocked.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("alternatives").EnumerateArray());
        var otherHold = await client.PostAsJsonAsync("/functions/v1/hold_slot", new { slotId = c.SlotIds[0], clinicId = c.Id, holder = "call-999" });
        Assert.Equal(HttpStatusCode.Conflict, otherHold.StatusCode);
        var list = await TestClinic.Json(await client.GetAsync($"/api/clinics/{c.Id}/slots?from={Uri.EscapeDataString(DateTimeOffset.UtcNow.ToString("o"))}&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(30).ToString("o"))}&available=true"));
        Assert.DoesNotContain(list.EnumerateArray(), s => s.GetProperty("id").GetGuid() == c.SlotIds[0]);
        Assert.Equal(c.SlotIds.Count - 1, list.GetArrayLength());

        // The holder claims it.
        var claimed = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = c.SlotIds[0], patientId = c.PatientIds[0], clinicId = c.Id, holder = "call-123" });
        Assert.Equal(HttpStatusCode.OK, claimed.StatusCode);

        // A hold on another slot that has expired (set in the past directly, no sleeping) is free.
        await client.PostAsJsonAsync("/functions/v1/hold_slot", new { slotId = c.SlotIds[1], clinicId = c.Id, holder = "call-456", ttlSeconds = 60 });
        await TestApp.ExecAsync("update calendar_slots set hold_expires_at = now() - interval '1 second' where id = $1", c.SlotIds[1]);
        var afterExpiry = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", Claim(c, 1, 2));
        Assert.Equal(HttpStatusCode.OK, afterExpiry.StatusCode);
    }

    [Fact]
    public async Task Hold_rejects_bad_ttl_and_unknown_slots()
    {
        var c = await TestClinic.CreateAsync(slots: 1, patients: 0);
        using var client = TestApp.As(c.Id, "receptionist");
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/functions/v1/hold_slot", new { slotId = c.SlotIds[0], clinicId = c.Id, holder = "x", ttlSeconds = 0 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/functions/v1/hold_slot", new { slotId = c.SlotIds[0], clinicId = c.Id, holder = "" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsJsonAsync("/functions/v1/hold_slot", new { slotId = Guid.NewGuid(), clinicId = c.Id, holder = "x" })).StatusCode);
        Assert.Null(await TestApp.ScalarAsync<string>("select hold_holder from calendar_slots where id = $1", c.SlotIds[0]));
    }

    [Fact]
    public async Task Slot_generation_rejects_overlap_with_409_and_lists_availability()
    {
        var c = await TestClinic.CreateAsync(slots: 4, patients: 1);
        using var client = TestApp.As(c.Id, "admin");
        var start = await TestApp.ScalarAsync<DateTime>("select min(starts_at) from calendar_slots where clinic_id = $1", c.Id);
        var overlap = await client.PostAsJsonAsync($"/api/clinics/{c.Id}/slots",
            new { practitionerId = c.PractitionerId, startsAt = new DateTimeOffset(start).AddMinutes(15), endsAt = new DateTimeOffset(start).AddMinutes(75), durationMinutes = 30 });
        Assert.Equal(HttpStatusCode.Conflict, overlap.StatusCode);
        Assert.Equal(Problems.Conflict, (await overlap.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        Assert.Equal(4L, await TestApp.ScalarAsync<long>("select count(*) from calendar_slots where clinic_id = $1", c.Id));

        await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", Claim(c, 2, 0));
        var all = await TestClinic.Json(await client.GetAsync($"/api/clinics/{c.Id}/slots?from={Uri.EscapeDataString(new DateTimeOffset(start).AddMinutes(-1).ToString("o"))}"));
        Assert.Equal(4, all.GetArrayLength());
        Assert.False(all.EnumerateArray().Single(s => s.GetProperty("id").GetGuid() == c.SlotIds[2]).GetProperty("available").GetBoolean());
        Assert.Equal(3, all.EnumerateArray().Count(s => s.GetProperty("available").GetBoolean()));
    }

    [Fact]
    public async Task Alternatives_prefer_the_same_practitioner_and_same_duration_and_speak_in_the_clinic_timezone()
    {
        var c = await TestClinic.CreateAsync(slots: 2, patients: 2, timezone: "America/New_York");
        using var admin = TestApp.As(c.Id, "admin");
        var other = (await TestClinic.Json(await admin.PostAsJsonAsync($"/api/clinics/{c.Id}/practitioners", new { name = "Dr Other" }))).GetProperty("id").GetGuid();
        var start = new DateTimeOffset(await TestApp.ScalarAsync<DateTime>("select min(starts_at) from calendar_slots where clinic_id = $1", c.Id));
        // Same time with a colleague, and a 60-minute slot (different duration, never offered).
        await TestClinic.Json(await admin.PostAsJsonAsync($"/api/clinics/{c.Id}/slots", new { practitionerId = other, startsAt = start, endsAt = start.AddMinutes(30), durationMinutes = 30 }));
        await TestClinic.Json(await admin.PostAsJsonAsync($"/api/clinics/{c.Id}/slots", new { practitionerId = other, startsAt = start.AddHours(3), endsAt = start.AddHours(4), durationMinutes = 60 }));
        await admin.PostAsJsonAsync("/functions/v1/claim_slot_atomic", Claim(c, 0, 0));
        var taken = await admin.PostAsJsonAsync("/functions/v1/claim_slot_atomic", Claim(c, 0, 1));
        var alts = (await taken.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("alternatives").EnumerateArray().ToList();
        Assert.Equal(2, alts.Count);
        Assert.Equal(c.SlotIds[1], alts[0].GetProperty("slotId").GetGuid());          // same practitioner, 30 min later
        Assert.Equal(other, alts[1].GetProperty("practitionerId").GetGuid());          // colleague at the same time
        var local = TimeZoneInfo.ConvertTime(start.AddMinutes(30), TimeZoneInfo.FindSystemTimeZoneById("America/New_York"));
        Assert.Equal(local.Offset, alts[0].GetProperty("startsAt").GetDateTimeOffset().Offset);
        Assert.Equal(local.ToString("dddd d MMMM 'at' HH:mm", System.Globalization.CultureInfo.InvariantCulture), alts[0].GetProperty("spoken").GetString());
    }
}
