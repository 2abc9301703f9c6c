using System.Text.Json;
using Frontdesk.Audit;

namespace Frontdesk.Waitlist;

/// <summary>What a patient waits for: all optional but the patient (null: any).</summary>
public sealed record WaitlistWish(Guid PatientId, Guid? ProcedureId, Guid? PractitionerId, DateTimeOffset? From, DateTimeOffset? To, string? PartOfDay);

public sealed record WaitlistOfferView(Guid Id, Guid SlotId, DateTimeOffset StartsAt, string Status, DateTimeOffset OfferedAt, DateTimeOffset ExpiresAt);

/// <summary>An entry as the API and the GDPR export show it. <c>status</c>: waiting, offered (an offer
/// is open), booked, removed, expired; <c>offer</c>: the latest offer made to it.</summary>
public sealed record WaitlistEntryView(Guid Id, Guid PatientId, string? Procedure, Guid? PractitionerId, DateTimeOffset? From, DateTimeOffset? To,
    string? PartOfDay, string Status, string Source, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, Guid? BookingId, WaitlistOfferView? Offer);

/// <summary>Morning, afternoon, evening: the same hours as check_availability.</summary>
public static class PartOfDay
{
    public static readonly string[] Names = ["morning", "afternoon", "evening"];

    public static string? Parse(string? text) =>
        text?.Trim().ToLowerInvariant() is { } t && Names.Contains(t) ? t : null;

    /// <summary>Whether a local hour is in the part of day (null: any).</summary>
    public static bool Contains(string? part, int hour) => part switch
    {
        "morning" => hour < 12,
        "afternoon" => hour is >= 12 and < 17,
        "evening" => hour >= 17,
        _ => true,
    };
}

/// <summary>
/// Waitlist entries: adding one (staff API and the join_waitlist tool), listing, removing, and what
/// erasure and export do with them. Every function writes in the caller's transaction.
/// </summary>
public static class WaitlistEntries
{
    /// <summary>Outbox kind: marks an entry expired at its latest date.</summary>
    public const string ExpiryJob = "waitlist_expiry";

    public sealed record Expiry(Guid EntryId);

    /// <summary>Adds the entry (or returns the patient's open entry for the same wish, so a repeated
    /// request adds nothing), audited, with its expiry job at <paramref name="expiresAt"/>.</summary>
    public static async Task<Guid> AddAsync(DbSession s, Guid clinicId, WaitlistWish wish, DateTimeOffset expiresAt, string source, string? callId,
        CancellationToken ct)
    {
        var args = new
        {
            ClinicId = clinicId, wish.PatientId, wish.ProcedureId, wish.PractitionerId, wish.From, wish.To, wish.PartOfDay,
            ExpiresAt = expiresAt, Source = source, CallId = callId,
        };
        // Row lock on the patient: two identical requests at once (a double submit) take turns here,
        // and the second finds the first's entry.
        await s.ExecuteAsync("select 1 from patients where clinic_id = @ClinicId and id = @PatientId for update", args, ct);
        if (await s.QuerySingleOrDefaultAsync<Guid?>("""
                select id from waitlist_entries
                where clinic_id = @ClinicId and patient_id = @PatientId and status in ('waiting', 'offered') and expires_at > now()
                  and procedure_id is not distinct from @ProcedureId and practitioner_id is not distinct from @PractitionerId
                  and from_at is not distinct from @From and to_at is not distinct from @To and part_of_day is not distinct from @PartOfDay
                limit 1
                """, args, ct) is { } existing)
            return existing;
        var id = await s.QuerySingleOrDefaultAsync<Guid>("""
            insert into waitlist_entries (clinic_id, patient_id, procedure_id, practitioner_id, from_at, to_at, part_of_day, expires_at, source, call_id)
            values (@ClinicId, @PatientId, @ProcedureId, @PractitionerId, @From, @To, @PartOfDay, @ExpiresAt, @Source, @CallId)
            returning id
            """, args, ct);
        await AuditLog.WriteAsync(s, clinicId, "created", "waitlist_entry", id.ToString(), new
        {
            patientId = wish.PatientId, source, procedureId = wish.ProcedureId, practitionerId = wish.PractitionerId,
            from = wish.From, to = wish.To, partOfDay = wish.PartOfDay, expiresAt, callId,
        }, ct);
        await Outbox.EnqueueAsync(s, clinicId, ExpiryJob, new Expiry(id), expiresAt, ct);
        return id;
    }

    sealed record Row(Guid Id, Guid PatientId, string? Procedure, Guid? PractitionerId, DateTimeOffset? From, DateTimeOffset? To,
        string? PartOfDay, string Status, string Source, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, Guid? BookingId,
        Guid? OfferId, Guid? SlotId, DateTimeOffset? StartsAt, string? OfferStatus, DateTimeOffset? OfferedAt, DateTimeOffset? OfferExpiresAt)
    {
        public WaitlistEntryView View => new(Id, PatientId, Procedure, PractitionerId, From, To, PartOfDay, Status, Source, CreatedAt, ExpiresAt, BookingId,
            OfferId is { } o ? new WaitlistOfferView(o, SlotId!.Value, StartsAt!.Value, OfferStatus!, OfferedAt!.Value, OfferExpiresAt!.Value) : null);
    }

    // An entry past its latest date reads expired even before its expiry job has run.
    const string ViewSql = """
        select e.id, e.patient_id, cp.name, e.practitioner_id, e.from_at, e.to_at, e.part_of_day,
               case when e.status = 'waiting' and e.expires_at <= now() then 'expired' else e.status end,
               e.source, e.created_at, e.expires_at, e.booking_id,
               o.id, o.slot_id, sl.starts_at, o.status, o.offered_at, o.expires_at
        from waitlist_entries e
        left join clinic_procedures cp on cp.clinic_id = e.clinic_id and cp.id = e.procedure_id
        left join lateral (select * from waitlist_offers o where o.clinic_id = e.clinic_id and o.entry_id = e.id
                           order by o.offered_at desc limit 1) o on true
        left join calendar_slots sl on sl.clinic_id = o.clinic_id and sl.id = o.slot_id
        """;

    /// <summary>The clinic's entries in the order they are served (first come first served), removed ones left out.</summary>
    public static async Task<IReadOnlyList<WaitlistEntryView>> ListAsync(DbSession s, Guid clinicId, CancellationToken ct) =>
        (await s.QueryAsync<Row>(ViewSql + " where e.clinic_id = @ClinicId and e.status <> 'removed' order by e.created_at, e.id limit 2000",
            new { ClinicId = clinicId }, ct)).Select(r => r.View).ToList();

    /// <summary>Every entry of a patient, removed ones included (the GDPR export).</summary>
    public static async Task<IReadOnlyList<WaitlistEntryView>> ForPatientAsync(DbSession s, Guid clinicId, Guid patientId, CancellationToken ct) =>
        (await s.QueryAsync<Row>(ViewSql + " where e.clinic_id = @ClinicId and e.patient_id = @PatientId order by e.created_at, e.id",
            new { ClinicId = clinicId, PatientId = patientId }, ct)).Select(r => r.View).ToList();

    /// <summary>Takes an entry off the list; an open offer is withdrawn and its slot released at once
    /// (which offers it to the next entry). False when there is no such entry (or it was removed already).</summary>
    public static async Task<bool> RemoveAsync(DbSession s, Guid clinicId, Guid entryId, CancellationToken ct)
    {
        var removed = await s.QuerySingleOrDefaultAsync<string>("""
            update waitlist_entries e set status = 'removed', closed_at = coalesce(e.closed_at, now())
            from (select id, status from waitlist_entries where clinic_id = @ClinicId and id = @Id and status <> 'removed' for update) old
            where e.clinic_id = @ClinicId and e.id = old.id
            returning old.status
            """, new { ClinicId = clinicId, Id = entryId }, ct);
        if (removed is null) return false;
        var released = await WithdrawAsync(s, clinicId, [entryId], ct);
        await AuditLog.WriteAsync(s, clinicId, "removed", "waitlist_entry", entryId.ToString(), new { previousStatus = removed, offersWithdrawn = released }, ct);
        return true;
    }

    /// <summary>Erasure: the patient's entries and offers deleted, open offers' holds released first.</summary>
    public static async Task<int> EraseAsync(DbSession s, Guid clinicId, Guid patientId, CancellationToken ct)
    {
        var ids = (await s.QueryAsync<Guid>("select id from waitlist_entries where clinic_id = @ClinicId and patient_id = @PatientId for update",
            new { ClinicId = clinicId, PatientId = patientId }, ct)).ToArray();
        if (ids.Length == 0) return 0;
        await WithdrawAsync(s, clinicId, ids, ct);
        return await s.ExecuteAsync("delete from waitlist_entries where clinic_id = @ClinicId and id = any(@Ids)", new { ClinicId = clinicId, Ids = ids }, ct);
    }

    /// <summary>Withdraws the open offers of <paramref name="entryIds"/> and releases the holds they
    /// placed (the slot trigger then offers each slot to the next entry).</summary>
    internal static Task<int> WithdrawAsync(DbSession s, Guid clinicId, Guid[] entryIds, CancellationToken ct) =>
        s.QuerySingleOrDefaultAsync<int>("""
            with o as (
              update waitlist_offers set status = 'withdrawn', closed_at = now()
              where clinic_id = @ClinicId and entry_id = any(@Ids) and status = 'open'
              returning id, slot_id
            ), released as (
              update calendar_slots s set hold_holder = null, hold_expires_at = null
              from o where s.clinic_id = @ClinicId and s.id = o.slot_id and s.hold_holder = 'waitlist:' || o.id::text
              returning s.id
            )
            select count(*)::int from o
            """, new { ClinicId = clinicId, Ids = entryIds }, ct);

    /// <summary>The expiry job: an entry still waiting at its latest date is closed as expired.</summary>
    internal static async Task<int> ExpireAsync(DbSession s, Guid clinicId, Guid entryId, CancellationToken ct)
    {
        var n = await s.ExecuteAsync("""
            update waitlist_entries set status = 'expired', closed_at = now()
            where clinic_id = @ClinicId and id = @Id and status = 'waiting' and expires_at <= now()
            """, new { ClinicId = clinicId, Id = entryId }, ct);
        if (n == 1) await AuditLog.WriteAsync(s, clinicId, "expired", "waitlist_entry", entryId.ToString(), null, ct);
        return n;
    }

    internal static Expiry? ReadExpiry(JsonElement payload) => payload.Deserialize<Expiry>(JsonSerializerOptions.Web);
}
