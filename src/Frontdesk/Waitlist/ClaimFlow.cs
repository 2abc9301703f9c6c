using Frontdesk.Audit;
using Frontdesk.Booking;
using Frontdesk.BookingPage;
using Frontdesk.Manage;
using Frontdesk.Messaging;
using Frontdesk.Privacy;

namespace Frontdesk.Waitlist;

/// <summary>Where a claim link stands.</summary>
public abstract record ClaimState(ClinicView Clinic)
{
    /// <summary>The offered time is free (or held for this offer): it can be booked. <paramref name="HeldUntil"/>
    /// is set while the offer's hold lasts.</summary>
    public sealed record Open(ClinicView Clinic, Guid SlotId, BookedView Offered, DateTimeOffset? HeldUntil) : ClaimState(Clinic);
    /// <summary>Someone else has the offered time: the nearest free times like it instead.</summary>
    public sealed record Taken(ClinicView Clinic, BookedView Offered, IReadOnlyList<SlotChoice> Alternatives) : ClaimState(Clinic);
    /// <summary>The entry is booked (through this link or another): its booking.</summary>
    public sealed record Booked(ClinicView Clinic, BookedView Booking, string ManagePath) : ClaimState(Clinic);
    /// <summary>The offered time has started.</summary>
    public sealed record Past(ClinicView Clinic) : ClaimState(Clinic);
    /// <summary>The entry was taken off the list (its offer withdrawn).</summary>
    public sealed record Withdrawn(ClinicView Clinic) : ClaimState(Clinic);
    /// <summary>The booking made through this link was cancelled since (by the patient or the clinic).</summary>
    public sealed record Cancelled(ClinicView Clinic) : ClaimState(Clinic);
}

public abstract record ClaimResult
{
    public sealed record Booked(Guid BookingId) : ClaimResult;
    public sealed record Taken(IReadOnlyList<SlotChoice> Alternatives) : ClaimResult;
    public sealed record NoSuchSlot : ClaimResult;
    /// <summary>The link no longer stands for anything that can be booked (withdrawn, erased, past).</summary>
    public sealed record NotValid : ClaimResult;
}

/// <summary>
/// The claim page's database work: what an offer link shows, and the claim — through the slot
/// engine's atomic claim (source <c>waitlist</c>) with the offer's hold as the holder key while it
/// lasts, so exactly one of two people racing for a freed slot gets it and the other is shown the
/// nearest free times. Every statement runs with the clinic's claims (app role <c>patient</c>).
/// </summary>
public sealed partial class ClaimFlow(Db db, Outbox outbox, ManageLinkToken manageTokens, PublicUrl urls, Vault vault, SmsGuard guard,
    ILogger<ClaimFlow> log)
{
    public const string Source = "waitlist";

    public static RequestClaims Claims(Guid clinicId) => RequestClaims.ForClinic(clinicId, "waitlist_link", Tenancy.Roles.Patient);

    sealed record Row(Guid OfferId, Guid EntryId, Guid SlotId, string OfferStatus, DateTimeOffset OfferExpiresAt, Guid PatientId,
        string EntryStatus, Guid? EntryBookingId, Guid? WantedPractitioner, string? Phone, bool PatientErased,
        DateTimeOffset StartsAt, DateTimeOffset EndsAt, Guid PractitionerId, string Practitioner, string Procedure, bool Available,
        Guid? ProcedureId)
    {
        /// <summary>The offered time in the page's booking shape (its id is the slot's).</summary>
        public BookedView Offered => new(SlotId, StartsAt, EndsAt, Practitioner, Procedure);
        public bool Gone => PatientErased || EntryStatus == "removed" || OfferStatus == "withdrawn";
    }

    const string ClinicSql = "select name, timezone, address, phone from clinics where id = @ClinicId";

    const string RowSql = """
        select o.id, o.entry_id, o.slot_id, o.status, o.expires_at, e.patient_id, e.status, e.booking_id, e.practitioner_id,
               p.phone, p.erased_at is not null,
               s.starts_at, s.ends_at, s.practitioner_id, pr.name, coalesce(cp.name, ''),
               s.claimed_by is null and not s.busy
                 and (s.hold_expires_at is null or s.hold_expires_at <= now() or s.hold_holder = 'waitlist:' || o.id::text),
               e.procedure_id
        from waitlist_offers o
        join waitlist_entries e on e.clinic_id = o.clinic_id and e.id = o.entry_id
        join patients p on p.clinic_id = e.clinic_id and p.id = e.patient_id
        join calendar_slots s on s.clinic_id = o.clinic_id and s.id = o.slot_id
        join practitioners pr on pr.clinic_id = s.clinic_id and pr.id = s.practitioner_id
        left join clinic_procedures cp on cp.clinic_id = e.clinic_id and cp.id = e.procedure_id
        where o.clinic_id = @ClinicId and o.id = @OfferId
        """;

    const string BookingSql = """
        select b.id, b.starts_at, b.ends_at, pr.name, @Procedure::text
        from bookings b join practitioners pr on pr.clinic_id = b.clinic_id and pr.id = b.practitioner_id
        where b.clinic_id = @ClinicId and b.id = @BookingId and b.status = 'confirmed'
        """;

    // A time like the offered one: same length, the entry's practitioner if it named one, and one that
    // fits the entry's procedure as voice booking reads it (issue 17, ProcedureFit).
    const string LikeOfferedCondition = $"""
        s.starts_at > now() and s.ends_at - s.starts_at = @Length
          and (@Wanted::uuid is null or s.practitioner_id = @Wanted)
          and {ProcedureFit.SlotCondition}
        """;

    // Free times like the offered one (or held by another open offer to the same entry: a newer text's
    // time is the patient's too), ranked as the slot engine ranks alternatives: |Δ start| + 2 h for
    // another practitioner.
    const string AlternativesSql = $"""
        select s.id, s.starts_at, s.ends_at, p.name
        from calendar_slots s join practitioners p on p.clinic_id = s.clinic_id and p.id = s.practitioner_id
        where s.clinic_id = @ClinicId and s.id <> @SlotId and {LikeOfferedCondition}
          and s.claimed_by is null and not s.busy
          and (s.hold_expires_at is null or s.hold_expires_at <= now()
               or s.hold_holder in (select 'waitlist:' || o.id::text from waitlist_offers o
                                    where o.clinic_id = s.clinic_id and o.entry_id = @EntryId and o.status = 'open'))
        order by abs(extract(epoch from s.starts_at - @StartsAt)) + case when s.practitioner_id = @PractitionerId then 0 else 7200 end, s.id
        limit 5
        """;

    public async Task<ClinicView?> ClinicAsync(Guid clinicId, CancellationToken ct) =>
        (await db.QueryOnceAsync<ClinicView>(Claims(clinicId), ClinicSql, new { ClinicId = clinicId }, ct)) is [var c] ? c : null;

    /// <summary>What the link shows, or null when it stands for nothing any more (the offer deleted
    /// with its entry, or the patient erased): such a link names nothing.</summary>
    public async Task<ClaimState?> StateAsync(ClaimLink link, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(Claims(link.ClinicId), ct);
        var clinic = await s.QuerySingleOrDefaultAsync<ClinicView>(ClinicSql, new { link.ClinicId }, ct);
        var row = await s.QuerySingleOrDefaultAsync<Row>(RowSql, new { link.ClinicId, link.OfferId }, ct);
        if (clinic is null || row is null || row.PatientErased) return null;
        if (row.EntryBookingId is { } booked)
            // A booking cancelled since (on its manage page, by the clinic) is not shown as booked.
            return await s.QuerySingleOrDefaultAsync<BookedView>(BookingSql, new { link.ClinicId, BookingId = booked, row.Procedure }, ct) is { } b
                ? new ClaimState.Booked(clinic, b, manageTokens.PathFor(link.ClinicId, b.BookingId, b.StartsAt))
                : new ClaimState.Cancelled(clinic);
        if (row.Gone) return new ClaimState.Withdrawn(clinic);
        if (row.StartsAt <= DateTimeOffset.UtcNow || link.ExpiresAt <= DateTimeOffset.UtcNow) return new ClaimState.Past(clinic);
        var fit = await ProcedureFits.ByIdAsync(s, link.ClinicId, row.ProcedureId, ct);
        // The offered time stops being on offer if the procedure's settings changed so that it no longer fits.
        if (row.Available && Fits(fit, row))
            return new ClaimState.Open(clinic, row.SlotId, row.Offered,
                row.OfferStatus == "open" && row.OfferExpiresAt > DateTimeOffset.UtcNow ? row.OfferExpiresAt : null);
        return new ClaimState.Taken(clinic, row.Offered, await AlternativesAsync(s, link.ClinicId, row, fit, ct));
    }

    static bool Fits(ProcedureFit? fit, Row row) => fit is null || fit.Fits(row.PractitionerId, row.StartsAt, row.EndsAt);

    static Task<IReadOnlyList<SlotChoice>> AlternativesAsync(DbSession s, Guid clinicId, Row row, ProcedureFit? fit, CancellationToken ct)
    {
        var (restricted, practitioners, minutes) = ProcedureFit.Parameters(fit);
        return s.QueryAsync<SlotChoice>(AlternativesSql, new
        {
            ClinicId = clinicId, row.SlotId, Length = row.EndsAt - row.StartsAt, Wanted = row.WantedPractitioner, row.StartsAt, row.PractitionerId,
            row.EntryId, FitRestricted = restricted, FitPractitioners = practitioners, FitMinutes = minutes,
        }, ct);
    }

    /// <summary>Books <paramref name="slotId"/> (the offered time, or one of the alternatives shown)
    /// for the entry's patient, closes the offer and the entry, and texts the booking with its manage
    /// link — one transaction.</summary>
    public async Task<ClaimResult> ClaimAsync(ClaimLink link, Guid slotId, CancellationToken ct)
    {
        var clinicId = link.ClinicId;
        await using var s = await db.BeginAsync(Claims(clinicId), ct);
        // Row lock on the offer: a double tap (or two tabs) of one link takes turns; the second then
        // sees the entry booked. The row is read by a later statement, whose snapshot sees the first's commit.
        await s.ExecuteAsync("select 1 from waitlist_offers where clinic_id = @ClinicId and id = @OfferId for update", new { ClinicId = clinicId, link.OfferId }, ct);
        var row = await s.QuerySingleOrDefaultAsync<Row>(RowSql, new { ClinicId = clinicId, link.OfferId }, ct);
        if (row is null || row.Gone || row.StartsAt <= DateTimeOffset.UtcNow && slotId == row.SlotId) return new ClaimResult.NotValid();
        if (row.EntryBookingId is { } existing) return new ClaimResult.Booked(existing);

        var offered = slotId == row.SlotId;
        // Only a time the page could show (issue 17's procedure rules included): the offered one while it
        // fits the entry's procedure, or one like it.
        var fit = await ProcedureFits.ByIdAsync(s, clinicId, row.ProcedureId, ct);
        var (restricted, practitioners, minutes) = ProcedureFit.Parameters(fit);
        if (offered ? !Fits(fit, row) : !await s.QuerySingleOrDefaultAsync<bool>($"""
                select exists (select 1 from calendar_slots s where s.clinic_id = @ClinicId and s.id = @SlotId and {LikeOfferedCondition})
                """, new
                {
                    ClinicId = clinicId, SlotId = slotId, Length = row.EndsAt - row.StartsAt, Wanted = row.WantedPractitioner,
                    FitRestricted = restricted, FitPractitioners = practitioners, FitMinutes = minutes,
                }, ct))
            return new ClaimResult.NoSuchSlot();

        // The offer's hold is the key while the offer is open: nobody else can claim the slot before it
        // lapses, and after that the slot engine lets exactly one claimer have it. A time held by another
        // open offer to the same entry (a newer text) is the patient's too.
        var holder = offered && row.OfferStatus == "open"
            ? WaitlistOffers.Holder(row.OfferId)
            : await s.QuerySingleOrDefaultAsync<Guid?>("""
                select id from waitlist_offers
                where clinic_id = @ClinicId and entry_id = @EntryId and slot_id = @SlotId and status = 'open' and id <> @OfferId
                """, new { ClinicId = clinicId, row.EntryId, SlotId = slotId, row.OfferId }, ct) is { } sibling
                ? WaitlistOffers.Holder(sibling)
                : null;
        var outcome = await SlotEngine.ClaimAsync(s, slotId, row.PatientId, clinicId, holder, Source, null, ct);
        switch (outcome.Status)
        {
            case 200:
                var bookingId = outcome.BookingId!.Value;
                await ProcedureFits.RecordAsync(s, clinicId, bookingId, fit, ct);
                // This offer, and another open offer to the entry for the slot just booked, are claimed.
                await s.ExecuteAsync("""
                    update waitlist_offers set status = case when status = 'open' then 'claimed' else status end,
                           closed_at = coalesce(closed_at, now()), booking_id = @BookingId
                    where clinic_id = @ClinicId
                      and (id = @OfferId or entry_id = @EntryId and slot_id = @SlotId and status = 'open')
                    """, new { ClinicId = clinicId, link.OfferId, row.EntryId, SlotId = slotId, BookingId = bookingId }, ct);
                // Booked another time: the offered slot is not needed any more — released now, so the
                // next entry hears of it without waiting for the hold to run out.
                if (!offered)
                    await s.ExecuteAsync("""
                        update calendar_slots set hold_holder = null, hold_expires_at = null
                        where clinic_id = @ClinicId and id = @SlotId and hold_holder = @Holder and claimed_by is null
                        """, new { ClinicId = clinicId, row.SlotId, Holder = WaitlistOffers.Holder(row.OfferId) }, ct);
                await s.ExecuteAsync("""
                    update waitlist_entries set status = 'booked', booking_id = @BookingId, closed_at = now()
                    where clinic_id = @ClinicId and id = @EntryId
                    """, new { ClinicId = clinicId, row.EntryId, BookingId = bookingId }, ct);
                // Claimed through an older text: a newer offer to the entry still holds another time for
                // someone who is booked now — withdrawn, its hold released (the next entry hears of it).
                var withdrawn = await WaitlistEntries.WithdrawAsync(s, clinicId, [row.EntryId], ct);
                var booking = (await s.QuerySingleOrDefaultAsync<BookedView>(BookingSql, new { ClinicId = clinicId, BookingId = bookingId, row.Procedure }, ct))!;
                var clinic = (await s.QuerySingleOrDefaultAsync<ClinicView>(ClinicSql, new { ClinicId = clinicId }, ct))!;
                var sms = row.Phone is { } phone
                    ? await PatientSms.QueueAsync(s, vault, guard, clinicId, phone, BookedText(clinicId, clinic, booking), SmsPurpose.Confirmation, ct)
                    : null;
                await AuditLog.WriteAsync(s, clinicId, "claimed", "waitlist_offer", row.OfferId.ToString(), new
                {
                    entryId = row.EntryId, bookingId, slotId, offeredSlotId = row.SlotId, withinHold = holder is not null,
                    offersWithdrawn = withdrawn, confirmationSms = sms is PatientSmsOutcome.Queued,
                }, ct);
                await s.CommitAsync(ct);
                outbox.Signal();
                Log.Claimed(log, clinicId, row.OfferId, bookingId);
                return new ClaimResult.Booked(bookingId);
            case 409:
                return new ClaimResult.Taken(await AlternativesAsync(s, clinicId, row with { SlotId = slotId }, fit, ct));
            default:
                return outcome.Error == "Patient not found" ? new ClaimResult.NotValid() : new ClaimResult.NoSuchSlot();
        }
    }

    string BookedText(Guid clinicId, ClinicView clinic, BookedView b)
    {
        var what = b.Procedure.Length == 0 ? "appointment" : b.Procedure + " consultation";
        var manage = urls.For(manageTokens.PathFor(clinicId, b.BookingId, b.StartsAt));
        return $"{clinic.Name}: you're booked. Your {what} is on {ClinicTime.Spoken(b.StartsAt, ClinicTime.Zone(clinic.Timezone))} with {b.Practitioner}."
               + (clinic.Address is null ? "" : $" Address: {clinic.Address}.")
               + $" To change or cancel: {manage}";
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Waitlist: clinic {ClinicId} offer {OfferId} claimed as booking {BookingId}")]
        public static partial void Claimed(ILogger logger, Guid clinicId, Guid offerId, Guid bookingId);
    }
}
