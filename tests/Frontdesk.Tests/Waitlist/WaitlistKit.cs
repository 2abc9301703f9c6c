using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Frontdesk.Tests.Infrastructure;
using Npgsql;
using static Frontdesk.Tests.Manage.PatientScenario;

namespace Frontdesk.Tests.Waitlist;

/// <summary>Entries, offers and clock control for the waitlist tests.</summary>
public static partial class WaitlistKit
{
    public sealed record Offer(Guid Id, Guid EntryId, Guid SlotId, DateTime ExpiresAt);

    public static async Task<Guid> JoinAsync(HttpClient staff, Guid clinicId, object body)
    {
        var r = await staff.PostAsJsonAsync($"/api/clinics/{clinicId}/waitlist", body);
        return (await TestClinic.Json(r)).GetProperty("id").GetGuid();
    }

    /// <summary>The open offer for <paramref name="entryId"/>, once the worker has made it.</summary>
    // Beyond the outbox lease (120 s): a job claimed by another test's instance as it was being disposed is
    // taken up again once its lease runs out, which is the guarantee (not a faster one).
    public static Task<Offer> OfferedAsync(Guid clinicId, Guid entryId, int seconds = 150) =>
        EventuallyAsync(() => OpenOfferAsync(clinicId, entryId), $"an offer to entry {entryId}", seconds);

    public static async Task<Offer?> OpenOfferAsync(Guid clinicId, Guid entryId)
    {
        await using var c = await TestApp.AdminConnectionAsync();
        await using var cmd = new NpgsqlCommand(
            "select id, entry_id, slot_id, expires_at from waitlist_offers where clinic_id = $1 and entry_id = $2 and status = 'open'", c);
        cmd.Parameters.Add(new NpgsqlParameter { Value = clinicId });
        cmd.Parameters.Add(new NpgsqlParameter { Value = entryId });
        await using var r = await cmd.ExecuteReaderAsync();
        return await r.ReadAsync() ? new Offer(r.GetGuid(0), r.GetGuid(1), r.GetGuid(2), r.GetDateTime(3)) : null;
    }

    /// <summary>The claim link's path in an offer text.</summary>
    public static string ClaimPath(string smsBody)
    {
        var m = ClaimLink().Match(smsBody);
        Assert.True(m.Success, "no claim link in: " + smsBody);
        return m.Groups[1].Value;
    }

    // Any base: the offer may be built by another test's instance on the shared test database (its
    // worker takes due jobs of every clinic), whose public address is not this fixture's.
    [GeneratedRegex(@"https?://[^\s/]+(/waitlist/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")]
    private static partial Regex ClaimLink();

    /// <summary>
    /// The clock jumps past the offer's hold: the offer and the slot's hold are backdated as they would
    /// stand after <see cref="Frontdesk.Waitlist.WaitlistOptions.HoldMinutes"/>, without firing the slot
    /// trigger (replica mode), and the look at the slot the database scheduled for the hold's end is
    /// made due — so the lapse is found by that scheduled job, as in production.
    /// </summary>
    public static async Task LapseAsync(Offer offer)
    {
        await using var c = await TestApp.AdminConnectionAsync();
        await using var tx = await c.BeginTransactionAsync();
        async Task RunAsync(string sql, params object[] args)
        {
            await using var cmd = new NpgsqlCommand(sql, c, tx);
            foreach (var a in args) cmd.Parameters.Add(new NpgsqlParameter { Value = a });
            await cmd.ExecuteNonQueryAsync();
        }
        await RunAsync("set local session_replication_role = replica");
        await RunAsync("update waitlist_offers set expires_at = now() - interval '1 second', offered_at = now() - interval '31 minutes' where id = $1", offer.Id);
        await RunAsync("update calendar_slots set hold_expires_at = now() - interval '1 second' where id = $1", offer.SlotId);
        await using (var due = new NpgsqlCommand("""
            update outbox set next_attempt_at = now(), due_at = now()
            where kind = 'waitlist_slot' and status = 'pending' and payload->>'slotId' = $1::text and next_attempt_at > now()
            """, c, tx))
        {
            due.Parameters.Add(new NpgsqlParameter { Value = offer.SlotId });
            Assert.True(await due.ExecuteNonQueryAsync() >= 1, "the hold's end had no scheduled look at the slot");
        }
        await tx.CommitAsync();
    }

    /// <summary>Cancels a slot's booking behind the waitlist's back (the slot trigger off), so the slot is
    /// free without being offered: a time the claim page can show as an alternative.</summary>
    public static async Task FreeQuietlyAsync(Guid slotId)
    {
        await using var c = await TestApp.AdminConnectionAsync();
        await using var tx = await c.BeginTransactionAsync();
        foreach (var sql in new[]
                 {
                     "set local session_replication_role = replica",
                     "update bookings set status = 'cancelled', cancelled_at = now() where slot_id = $1 and status = 'confirmed'",
                     "update calendar_slots set claimed_by = null, claimed_at = null where id = $1",
                 })
        {
            await using var cmd = new NpgsqlCommand(sql, c, tx);
            if (sql.Contains("$1", StringComparison.Ordinal)) cmd.Parameters.Add(new NpgsqlParameter { Value = slotId });
            await cmd.ExecuteNonQueryAsync();
        }
        await tx.CommitAsync();
    }
}
