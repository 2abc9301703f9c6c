using Frontdesk.Audit;
using Frontdesk.StaffConsole;
using Frontdesk.Tenancy;

namespace Frontdesk.Waitlist;

/// <summary>A waitlist offer that ran out unclaimed and no person has looked at yet.</summary>
public sealed record LapsedOffer(Guid Id, Guid EntryId, DateTimeOffset ClosedAt, DateTimeOffset StartsAt, string Practitioner,
    string? PatientName, string EntryStatus);

/// <summary>
/// Lapsed offers (WaitlistOffers closes them when the hold runs out): the patient did not take the
/// freed time, so the slot went to the next entry and the patient waits again (or their entry
/// expired). They stay in the staff work queue until a person acknowledges them
/// (<c>waitlist_offers.acknowledged_at/by</c>), in the caller's tenant session, audited.
/// </summary>
public static class WaitlistLapses
{
    const int Limit = 200;

    public static Task<IReadOnlyList<LapsedOffer>> ListAsync(DbSession s, Guid clinicId, CancellationToken ct) =>
        s.QueryAsync<LapsedOffer>($"""
            select o.id, o.entry_id, o.closed_at, sl.starts_at, pr.name, p.name, e.status
            from waitlist_offers o
            join waitlist_entries e on e.clinic_id = o.clinic_id and e.id = o.entry_id
            join patients p on p.clinic_id = e.clinic_id and p.id = e.patient_id
            join calendar_slots sl on sl.clinic_id = o.clinic_id and sl.id = o.slot_id
            join practitioners pr on pr.clinic_id = sl.clinic_id and pr.id = sl.practitioner_id
            where o.clinic_id = @C and o.status = 'lapsed' and o.acknowledged_at is null
            order by o.closed_at desc
            limit {Limit}
            """, new { C = clinicId }, ct);

    /// <summary>A person saw the lapsed offer: its entry's id, or null when there is no such unacknowledged lapsed offer.</summary>
    public static async Task<Guid?> AcknowledgeAsync(DbSession s, Guid clinicId, Guid offerId, CancellationToken ct)
    {
        var entry = await s.QuerySingleOrDefaultAsync<Guid?>("""
            update waitlist_offers set acknowledged_at = now(), acknowledged_by = @Actor
            where clinic_id = @C and id = @Id and status = 'lapsed' and acknowledged_at is null
            returning entry_id
            """, new { C = clinicId, Id = offerId, Actor = s.Claims.Actor.Length <= 200 ? s.Claims.Actor : s.Claims.Actor[..200] }, ct);
        if (entry is null) return null;
        await AuditLog.WriteAsync(s, clinicId, "acknowledged", "waitlist_offer", offerId.ToString(), new { entryId = entry }, ct);
        return entry;
    }
}

/// <summary>
/// The staff console's work queue (issue 19) gets the waitlist offers that lapsed: "Seen" acknowledges
/// one; "Remove from waitlist" also takes the patient's entry off the list through the API's code
/// (DELETE …/waitlist/{entryId}: <see cref="WaitlistEntries.RemoveAsync"/>). Admins and receptionists,
/// the roles that change the waitlist.
/// </summary>
public sealed class LapsedOfferQueueProvider(Outbox outbox) : IWorkQueueProvider
{
    public string Kind => "waitlist";

    public const string Seen = "seen", Remove = "remove";

    const AppRoles Workers = AppRoles.Admin | AppRoles.Receptionist;

    public async Task<IReadOnlyList<WorkItem>> ListAsync(DbSession s, ConsoleUser user, CancellationToken ct)
    {
        if (!user.Claims.Has(Workers)) return [];
        return [.. (await WaitlistLapses.ListAsync(s, user.ClinicId, ct)).Select(o =>
        {
            var waiting = o.EntryStatus is "waiting" or "offered";
            return new WorkItem(Kind, o.Id.ToString(), o.ClosedAt, 40,
                $"Waitlist offer not taken: {ConsoleText.FirstName(o.PatientName)}, {ConsoleLayout.Local(o.StartsAt, user.ClinicTimezone, "ddd d MMM HH:mm")} with {o.Practitioner}",
                waiting ? "The time went to the next person waiting; this patient is still on the waitlist." : "The patient's waitlist entry has ended.",
                "Offer lapsed", "warn",
                waiting ? [new WorkAction(Seen, "Seen"), new WorkAction(Remove, "Remove from waitlist", Danger: true)] : [new WorkAction(Seen, "Seen")]);
        })];
    }

    public async Task<WorkActionResult> ActAsync(HttpContext http, ConsoleUser user, string id, string action, IFormCollection form, CancellationToken ct)
    {
        if (!user.Claims.Has(Workers)) return new WorkActionResult.Refused(403, "Your role does not change the waitlist.");
        if (action is not (Seen or Remove)) return new WorkActionResult.Refused(400, "Unknown action.");
        if (!Guid.TryParse(id, out var offerId)) return new WorkActionResult.NotFound();
        var db = http.RequestServices.GetRequiredService<Db>();
        await using var s = await db.BeginAsync(user.Claims, ct);
        if (await WaitlistLapses.AcknowledgeAsync(s, user.ClinicId, offerId, ct) is not { } entryId) return new WorkActionResult.NotFound();
        var removed = action == Remove && await WaitlistEntries.RemoveAsync(s, user.ClinicId, entryId, ct);
        await s.CommitAsync(ct);
        if (removed) outbox.Signal();   // a released hold: the next entry's offer
        return new WorkActionResult.Done(removed ? "Removed from the waitlist." : "Done.");
    }
}
