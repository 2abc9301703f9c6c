using System.Text.Json;
using Frontdesk.Audit;
using Frontdesk.Booking;
using Frontdesk.FollowUp;
using Frontdesk.Messaging;
using Frontdesk.Privacy;

namespace Frontdesk.Waitlist;

/// <summary>
/// The 'waitlist_slot' outbox job, written by the database whenever a slot may have become free
/// (supabase/migrations/…_waitlist.sql: a cancel, a move away, a busy flag cleared, a hold released
/// or running out). In one transaction with the clinic's claims, the slot's row locked:
/// <list type="number">
/// <item>offers on the slot whose hold ran out are closed as lapsed (their entries wait again, the
/// staff work queue shows them);</item>
/// <item>if the slot is free, far enough ahead and outside quiet hours, the first matching entry —
/// first come first served, then the closest fit — gets an offer: the slot held for it
/// (<c>hold_holder = 'waitlist:{offer}'</c>, <see cref="WaitlistOptions.HoldMinutes"/>) and an SMS
/// with the claim link. The hold itself makes the database schedule the next look at the slot for
/// the moment it runs out: not claimed by then → lapsed → the next entry.</item>
/// </list>
/// Idempotent: a repeated or late job finds the slot taken or held and does nothing.
/// </summary>
public sealed partial class WaitlistOffers(Db db, WaitlistOptions options, WaitlistClaimToken tokens, PublicUrl urls,
    Vault vault, SmsGuard guard, ILogger<WaitlistOffers> log) : IOutboxHandler
{
    public const string JobKind = "waitlist_slot";
    public const string Actor = "waitlist";

    /// <summary>The holder an offer's hold carries on calendar_slots.</summary>
    public static string Holder(Guid offerId) => "waitlist:" + offerId;

    public static RequestClaims Claims(Guid clinicId) => RequestClaims.ForClinic(clinicId, Actor);

    public string Kind => JobKind;
    public bool Ready => true;

    sealed record Job(Guid SlotId);

    sealed record SlotRow(Guid Id, Guid PractitionerId, string Practitioner, DateTimeOffset StartsAt, DateTimeOffset EndsAt, bool Free,
        string ClinicName, string Timezone, string? Address, TimeOnly? QuietStart, TimeOnly? QuietEnd);

    sealed record Candidate(Guid Id, Guid PatientId, string Phone, string? Procedure);

    sealed record Lapsed(Guid Id, Guid EntryId);

    const string SlotSql = """
        select s.id, s.practitioner_id, p.name, s.starts_at, s.ends_at,
               s.claimed_by is null and not s.busy and (s.hold_expires_at is null or s.hold_expires_at <= now()),
               c.name, c.timezone, c.address, c.quiet_start, c.quiet_end
        from calendar_slots s
        join practitioners p on p.clinic_id = s.clinic_id and p.id = s.practitioner_id
        join clinics c on c.id = s.clinic_id
        where s.clinic_id = @ClinicId and s.id = @SlotId
        for update of s
        """;

    // Matching: practitioner, window and part of day as asked, and the procedure as voice booking
    // reads it (issue 17, ProcedureFit): the slot's practitioner consults for it and the slot is long
    // enough. An entry is offered a given slot once. Order: first come first served, then the closest
    // fit (fewest "any" answers, then the narrowest window). SKIP LOCKED: a concurrent job for another
    // slot takes the next entry.
    const string CandidatesSql = $"""
        select e.id, e.patient_id, p.phone, cp.name
        from waitlist_entries e
        join patients p on p.clinic_id = e.clinic_id and p.id = e.patient_id and p.erased_at is null and p.phone is not null
        join calendar_slots s on s.clinic_id = e.clinic_id and s.id = @SlotId
        left join clinic_procedures cp on cp.clinic_id = e.clinic_id and cp.id = e.procedure_id
        where e.clinic_id = @ClinicId and e.status = 'waiting' and e.expires_at > now()
          and {ProcedureFit.ProcedureCondition}
          and (e.practitioner_id is null or e.practitioner_id = @PractitionerId)
          and (e.from_at is null or e.from_at <= @StartsAt)
          and (e.to_at is null or @StartsAt < e.to_at)
          and @StartsAt < e.expires_at
          and (e.part_of_day is null or e.part_of_day = any(@Parts))
          and not exists (select 1 from waitlist_offers o where o.clinic_id = e.clinic_id and o.entry_id = e.id and o.slot_id = @SlotId)
        order by e.created_at,
                 (e.practitioner_id is null)::int + (e.from_at is null and e.to_at is null)::int + (e.part_of_day is null)::int + (e.procedure_id is null)::int,
                 coalesce(e.to_at, e.expires_at) - coalesce(e.from_at, e.created_at),
                 e.id
        limit 20
        for update of e skip locked
        """;

    public async Task<OutboxResult> HandleAsync(OutboxItem item, CancellationToken ct)
    {
        var job = item.Payload.Deserialize<Job>(JsonSerializerOptions.Web);
        if (job is null || job.SlotId == Guid.Empty) return new OutboxResult.Failed("payload has no slotId");
        var clinicId = item.ClinicId;

        await using var s = await db.BeginAsync(Claims(clinicId), ct);
        var slot = await s.QuerySingleOrDefaultAsync<SlotRow>(SlotSql, new { ClinicId = clinicId, job.SlotId }, ct);
        if (slot is null) return new OutboxResult.Done();

        await LapseAsync(s, clinicId, slot.Id, ct);
        var now = DateTimeOffset.UtcNow;
        OutboxResult result = new OutboxResult.Done();
        if (slot.Free && slot.StartsAt > now + TimeSpan.FromMinutes(options.MinNoticeMinutes))
        {
            var zone = ClinicTime.Zone(slot.Timezone);
            var allowed = QuietHours.NextAllowed(now, slot.QuietStart, slot.QuietEnd, zone);
            result = allowed > now
                // Nobody is texted at night: look again when quiet hours end (not an attempt).
                ? new OutboxResult.Defer(allowed, "quiet hours")
                : await OfferAsync(s, clinicId, slot, zone, ct);
        }
        // The offer's SMS job is picked up by the worker's next pass (a handler cannot signal the outbox
        // that runs it; the pass after a busy batch starts at once, otherwise within the poll interval).
        await s.CommitAsync(ct);
        return result;
    }

    /// <summary>Closes the slot's open offers whose hold ran out; their entries wait again (or expire).</summary>
    async Task LapseAsync(DbSession s, Guid clinicId, Guid slotId, CancellationToken ct)
    {
        var lapsed = await s.QueryAsync<Lapsed>("""
            update waitlist_offers set status = 'lapsed', closed_at = now()
            where clinic_id = @ClinicId and slot_id = @SlotId and status = 'open' and expires_at <= now()
            returning id, entry_id
            """, new { ClinicId = clinicId, SlotId = slotId }, ct);
        foreach (var l in lapsed)
        {
            await s.ExecuteAsync("""
                update waitlist_entries
                   set status = case when expires_at <= now() then 'expired' else 'waiting' end,
                       closed_at = case when expires_at <= now() then now() end
                where clinic_id = @ClinicId and id = @EntryId and status = 'offered'
                """, new { ClinicId = clinicId, l.EntryId }, ct);
            await AuditLog.WriteAsync(s, clinicId, "lapsed", "waitlist_offer", l.Id.ToString(), new { entryId = l.EntryId, slotId }, ct);
            Log.OfferLapsed(log, clinicId, l.Id);
        }
    }

    /// <summary>Offers the slot to the first matching entry that can be texted.</summary>
    async Task<OutboxResult> OfferAsync(DbSession s, Guid clinicId, SlotRow slot, TimeZoneInfo zone, CancellationToken ct)
    {
        var hour = ClinicTime.Local(slot.StartsAt, zone).Hour;
        var parts = PartOfDay.Names.Where(p => PartOfDay.Contains(p, hour)).ToArray();
        var candidates = await s.QueryAsync<Candidate>(CandidatesSql, new
        {
            ClinicId = clinicId, slot.PractitionerId, slot.StartsAt, Parts = parts, SlotId = slot.Id,
        }, ct);
        foreach (var entry in candidates)
        {
            // Offers go by text: a number that opted out cannot get one (it stays on the list).
            if (await PatientSms.OptedOutAsync(s, vault, clinicId, entry.Phone, ct)) continue;

            var offerId = Guid.NewGuid();
            var expires = Min(DateTimeOffset.UtcNow + options.Hold, slot.StartsAt);
            var link = urls.For(tokens.PathFor(clinicId, offerId, slot.StartsAt));
            switch (await PatientSms.QueueAsync(s, vault, guard, clinicId, entry.Phone, Text(slot, zone, entry, expires, link), SmsPurpose.Offer, ct))
            {
                case PatientSmsOutcome.Refused { Verdict.Reason: SmsVerdict.Refused.QuotaExceeded } quota:
                    // The failed message is kept (visible in review); try the slot again when the clinic's day turns.
                    Log.QuotaReached(log, clinicId, slot.Id);
                    return new OutboxResult.Defer(DateTimeOffset.UtcNow + (quota.Verdict.RetryAfter ?? TimeSpan.FromHours(1)), "SMS quota used up");
                case PatientSmsOutcome.Refused:
                    continue;   // a country the clinic does not text: the next entry
                case PatientSmsOutcome.Queued queued:
                    await s.ExecuteAsync("""
                        insert into waitlist_offers (clinic_id, id, entry_id, slot_id, expires_at, message_id)
                        values (@ClinicId, @Id, @EntryId, @SlotId, @Expires, @MessageId)
                        """, new { ClinicId = clinicId, Id = offerId, EntryId = entry.Id, SlotId = slot.Id, Expires = expires, queued.MessageId }, ct);
                    await s.ExecuteAsync("update waitlist_entries set status = 'offered' where clinic_id = @ClinicId and id = @Id",
                        new { ClinicId = clinicId, Id = entry.Id }, ct);
                    // The slot's row is locked and was free: the hold cannot miss. Setting it schedules
                    // the next look at the slot (lapse → next entry) for when it runs out.
                    await s.ExecuteAsync("""
                        update calendar_slots set hold_holder = @Holder, hold_expires_at = @Expires
                        where clinic_id = @ClinicId and id = @SlotId and claimed_by is null
                        """, new { ClinicId = clinicId, SlotId = slot.Id, Holder = Holder(offerId), Expires = expires }, ct);
                    await AuditLog.WriteAsync(s, clinicId, "offered", "waitlist_offer", offerId.ToString(),
                        new { entryId = entry.Id, patientId = entry.PatientId, slotId = slot.Id, expiresAt = expires }, ct);
                    Log.Offered(log, clinicId, offerId);
                    return new OutboxResult.Done();
            }
        }
        return new OutboxResult.Done();
    }

    static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    /// <summary>Short, with the time, the deadline and the link; never "reply CANCEL" (Twilio keeps that word).</summary>
    static string Text(SlotRow slot, TimeZoneInfo zone, Candidate entry, DateTimeOffset expires, string link)
    {
        var what = entry.Procedure is null ? "an appointment" : $"a {entry.Procedure} consultation";
        return $"{slot.ClinicName}: good news, {what} has come free on {ClinicTime.Spoken(slot.StartsAt, zone)} with {slot.Practitioner}. "
               + $"We're holding it for you until {ClinicTime.Local(expires, zone).ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture)}. To book it: {link}";
    }

    public Task<OutboxResult> GiveUpAsync(OutboxItem item, string reason, CancellationToken ct) =>
        Task.FromResult<OutboxResult>(new OutboxResult.Failed(reason));

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Waitlist: clinic {ClinicId} offer {OfferId} made")]
        public static partial void Offered(ILogger logger, Guid clinicId, Guid offerId);

        [LoggerMessage(Level = LogLevel.Information, Message = "Waitlist: clinic {ClinicId} offer {OfferId} lapsed")]
        public static partial void OfferLapsed(ILogger logger, Guid clinicId, Guid offerId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Waitlist: clinic {ClinicId} slot {SlotId} not offered: the SMS quota is used up")]
        public static partial void QuotaReached(ILogger logger, Guid clinicId, Guid slotId);
    }
}

/// <summary>The 'waitlist_expiry' outbox job: an entry still waiting at its latest date expires.</summary>
public sealed class WaitlistExpiry(Db db) : IOutboxHandler
{
    public string Kind => WaitlistEntries.ExpiryJob;
    public bool Ready => true;

    public async Task<OutboxResult> HandleAsync(OutboxItem item, CancellationToken ct)
    {
        if (WaitlistEntries.ReadExpiry(item.Payload) is not { EntryId: var id } || id == Guid.Empty)
            return new OutboxResult.Failed("payload has no entryId");
        await db.InTransactionAsync(WaitlistOffers.Claims(item.ClinicId), s => WaitlistEntries.ExpireAsync(s, item.ClinicId, id, ct), ct);
        return new OutboxResult.Done();
    }
}
