using Frontdesk.Audit;
using Frontdesk.Booking;
using Frontdesk.FollowUp;
using Frontdesk.Messaging;
using Frontdesk.Privacy;

namespace Frontdesk.BookingPage;

sealed record PractitionerName(Guid Id, string Name);

sealed record LeadRow(byte[]? PhoneHash, byte[]? Content, string? LegacyPhone, string? LegacyName, string Procedure, Guid? PatientId,
    Guid? BookingId, bool OptedOut, bool PatientErased);

/// <summary>A lead with its contact opened.</summary>
sealed record OpenLead(LeadRow Row, LeadContact Contact, byte[] PhoneHash);

/// <summary>What the page needs for one link: the clinic, the lead and, when the lead already
/// booked through its link, that live booking.</summary>
/// <summary>The times the page offers, and the procedure they were chosen for (null: none known).</summary>
public sealed record FreeTimes(ProcedureFit? Procedure, IReadOnlyList<SlotChoice> Slots);

public sealed record LinkState(ClinicView Clinic, string Procedure, string? PatientName, BookedView? Booking, bool Texted);

public abstract record BookResult
{
    public sealed record Booked(Guid BookingId) : BookResult;
    /// <summary>The lead already holds a live booking from its link: nothing new was claimed.</summary>
    public sealed record AlreadyBooked(Guid BookingId) : BookResult;
    public sealed record Taken(IReadOnlyList<Alternative> Alternatives) : BookResult;
    public sealed record NoSuchSlot : BookResult;
    public sealed record NoSuchLead : BookResult;
}

/// <summary>
/// The booking page's database work. Every statement runs with the clinic's tenant claims (the
/// signed link proves the clinic), so RLS applies exactly as for staff of that clinic.
/// </summary>
public sealed partial class BookingFlow(Db db, Outbox outbox, CancelLinkToken cancelTokens, PublicUrl urls,
    BookingPageOptions options, Vault vault, SmsGuard guard, ILogger<BookingFlow> log)
{
    public const string Source = "sms_link";

    public static RequestClaims Claims(Guid clinicId) => RequestClaims.ForClinic(clinicId, "booking_page", "patient");

    const string ClinicSql = "select name, timezone, address, phone from clinics where id = @ClinicId";

    const string LeadSql = """
        select l.phone_hash, l.content, l.phone, l.name, l.procedure,
               (select p.id from patients p where p.clinic_id = l.clinic_id and p.id = l.patient_id and p.erased_at is null),
               (select b.id from bookings b where b.clinic_id = l.clinic_id and b.id = l.converted_booking_id and b.status = 'confirmed'),
               exists (select 1 from sms_opt_outs o where o.clinic_id = l.clinic_id and (o.phone_hash = l.phone_hash or o.phone = l.phone)),
               exists (select 1 from patients p where p.clinic_id = l.clinic_id and p.id = l.patient_id and p.erased_at is not null)
        from leads l where l.clinic_id = @ClinicId and l.id = @LeadId
        """;

    const string BookingSql = """
        select b.id, b.starts_at, b.ends_at, p.name, @Procedure::text
        from bookings b join practitioners p on p.clinic_id = b.clinic_id and p.id = b.practitioner_id
        where b.clinic_id = @ClinicId and b.id = @BookingId
        """;

    public async Task<ClinicView?> ClinicAsync(Guid clinicId, CancellationToken ct) =>
        (await db.QueryOnceAsync<ClinicView>(Claims(clinicId), ClinicSql, new { ClinicId = clinicId }, ct)) is [var c] ? c : null;

    /// <summary>The clinic and lead of a link, or null when either is gone — the lead deleted by an
    /// erasure, minimised by retention, or its caller's key destroyed: such a link is no longer valid
    /// and nothing is re-created from it.</summary>
    public async Task<LinkState?> StateAsync(BookingLink link, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(Claims(link.ClinicId), ct);
        var clinic = await s.QuerySingleOrDefaultAsync<ClinicView>(ClinicSql, new { link.ClinicId }, ct);
        if (clinic is null || await OpenLeadAsync(s, link, ct) is not { } lead) return null;
        var booking = lead.Row.BookingId is { } id
            ? await s.QuerySingleOrDefaultAsync<BookedView>(BookingSql, new { link.ClinicId, BookingId = id, lead.Row.Procedure }, ct)
            : null;
        return new LinkState(clinic, lead.Row.Procedure, lead.Contact.Name, booking, Texted: !lead.Row.OptedOut);
    }

    async Task<OpenLead?> OpenLeadAsync(DbSession s, BookingLink link, CancellationToken ct)
    {
        var row = await s.QuerySingleOrDefaultAsync<LeadRow>(LeadSql, new { link.ClinicId, link.LeadId }, ct);
        if (row is null || row.PatientErased) return null;
        if (row.Content is null)
        {
            // A lead from before contacts were sealed, not yet reached by the backfill.
            if (row.LegacyPhone is not { } phone) return null;
            return new OpenLead(row, new LeadContact(phone, row.LegacyName),
                await vault.CallerHashAsync(s, link.ClinicId, CallerSubject.Phone(phone), ct));
        }
        var contact = await vault.OpenForCallerAsync<LeadContact>(s, link.ClinicId, row.PhoneHash, LeadContact.Table, link.LeadId.ToString(), row.Content, ct);
        return contact is null ? null : new OpenLead(row, contact, row.PhoneHash!);
    }

    /// <summary>Free times from now to <see cref="BookingPageOptions.Days"/> ahead, for any procedure.</summary>
    public async Task<IReadOnlyList<SlotChoice>> FreeSlotsAsync(Guid clinicId, CancellationToken ct) =>
        (await FreeTimesAsync(clinicId, null, ct)).Slots;

    /// <summary>Free times from now to <see cref="BookingPageOptions.Days"/> ahead: not claimed, not
    /// held by anyone live, not busy in a linked calendar, and — for a procedure with settings
    /// (issue 17) — only slots of its practitioners that are long enough. A procedure nobody consults
    /// for has no times (<see cref="FreeTimes.Procedure"/> says so).</summary>
    public async Task<FreeTimes> FreeTimesAsync(Guid clinicId, string? procedure, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(Claims(clinicId), ct);
        var fit = await ProcedureFits.FindAsync(s, clinicId, procedure, ct);
        if (fit is { NobodyConsults: true }) return new FreeTimes(fit, []);
        var (restricted, practitioners, minutes) = ProcedureFit.Parameters(fit);
        var slots = await s.QueryAsync<SlotChoice>($"""
            select s.id, s.starts_at, s.ends_at, p.name
            from calendar_slots s join practitioners p on p.clinic_id = s.clinic_id and p.id = s.practitioner_id
            where s.clinic_id = @ClinicId
              and s.starts_at > now() and s.starts_at < now() + make_interval(days => @Days)
              and s.claimed_by is null and not s.busy
              and (s.hold_expires_at is null or s.hold_expires_at <= now())
              and {ProcedureFit.SlotCondition}
            order by s.starts_at, p.name
            limit @Limit
            """, new { ClinicId = clinicId, options.Days, Limit = options.MaxSlots, FitRestricted = restricted, FitPractitioners = practitioners, FitMinutes = minutes }, ct);
        return new FreeTimes(fit, slots);
    }

    /// <summary>The 409's alternatives as choices, with their practitioners' names.</summary>
    public async Task<IReadOnlyList<SlotChoice>> ChoicesAsync(Guid clinicId, IReadOnlyList<Alternative> alternatives, CancellationToken ct)
    {
        var names = (await db.QueryOnceAsync<PractitionerName>(Claims(clinicId),
                "select id, name from practitioners where clinic_id = @ClinicId and id = any(@Ids)",
                new { ClinicId = clinicId, Ids = alternatives.Select(a => a.PractitionerId).Distinct().ToArray() }, ct))
            .ToDictionary(p => p.Id, p => p.Name);
        return alternatives.Select(a => new SlotChoice(a.SlotId, a.StartsAt, a.EndsAt, names.GetValueOrDefault(a.PractitionerId, ""))).ToList();
    }

    /// <summary>
    /// Claims <paramref name="slotId"/> for the lead's patient (found by the lead's phone in this
    /// clinic, created when new) through the same atomic claim as the phone agent, marks the lead
    /// converted and queues the confirmation SMS — one transaction.
    /// </summary>
    public async Task<BookResult> BookAsync(BookingLink link, Guid slotId, CancellationToken ct)
    {
        var clinicId = link.ClinicId;
        await using var s = await db.BeginAsync(Claims(clinicId), ct);
        // Row lock on the lead: two confirms of one link (double tap, two tabs) take turns. The lead
        // is read by a second statement, whose fresh snapshot (read committed) sees the booking the
        // first confirm committed; the locking statement's own snapshot predates it.
        if (!await s.QuerySingleOrDefaultAsync<bool>("select true from leads where clinic_id = @ClinicId and id = @LeadId for update",
                new { ClinicId = clinicId, link.LeadId }, ct))
            return new BookResult.NoSuchLead();
        if (await OpenLeadAsync(s, link, ct) is not { } lead) return new BookResult.NoSuchLead();
        if (lead.Row.BookingId is { } existing) return new BookResult.AlreadyBooked(existing);

        var patientId = lead.Row.PatientId ?? await s.QuerySingleOrDefaultAsync<Guid?>("""
            select id from patients where clinic_id = @ClinicId and phone = @Phone and erased_at is null order by created_at limit 1
            """, new { ClinicId = clinicId, lead.Contact.Phone }, ct);
        if (patientId is null)
        {
            patientId = await s.QuerySingleOrDefaultAsync<Guid>(
                "insert into patients (clinic_id, name, phone) values (@ClinicId, @Name, @Phone) returning id",
                new { ClinicId = clinicId, lead.Contact.Name, lead.Contact.Phone }, ct);
            await AuditLog.WriteAsync(s, clinicId, "created", "patient", patientId.ToString(), new { source = Source, leadId = link.LeadId }, ct);
        }

        // Only a time the page offers for the lead's procedure (issue 17): a slot of another practitioner,
        // or too short, is "not offered", whatever was posted.
        var fit = await ProcedureFits.FindAsync(s, clinicId, lead.Row.Procedure, ct);
        if (fit is { NobodyConsults: true }
            || fit is { Filters: true } && await ProcedureFits.SlotFitsAsync(s, clinicId, slotId, fit, ct) != true)
            return new BookResult.NoSuchSlot();

        var outcome = await SlotEngine.ClaimAsync(s, slotId, patientId.Value, clinicId, null, Source, null, ct);
        switch (outcome.Status)
        {
            case 200:
                var bookingId = outcome.BookingId!.Value;
                await ProcedureFits.RecordAsync(s, clinicId, bookingId, fit, ct);
                await s.ExecuteAsync("""
                    update leads set converted_booking_id = @BookingId, converted_at = now(), patient_id = @PatientId
                    where clinic_id = @ClinicId and id = @LeadId
                    """, new { BookingId = bookingId, PatientId = patientId, ClinicId = clinicId, link.LeadId }, ct);
                var sms = await QueueConfirmationAsync(s, link, lead, bookingId, ct);
                await AuditLog.WriteAsync(s, clinicId, "lead_converted", "lead", link.LeadId.ToString(),
                    new { bookingId, source = Source, confirmationSms = sms is not null, confirmationRefused = sms?.Refused?.Reason }, ct);
                await s.CommitAsync(ct);
                if (sms is { Refused: null }) outbox.Signal();
                Log.Booked(log, clinicId, link.LeadId, bookingId);
                return new BookResult.Booked(bookingId);
            case 409:
                return new BookResult.Taken(fit is { Filters: true }
                    ? await ProcedureFits.AlternativesAsync(s, clinicId, (await s.QuerySingleOrDefaultAsync<ClinicView>(ClinicSql, new { ClinicId = clinicId }, ct))!.Timezone,
                        slotId, fit, 3, ct)
                    : outcome.Alternatives);
            default:
                return new BookResult.NoSuchSlot();
        }
    }

    /// <summary>The confirmation text through the outbox, unless the number opted out. Sent at
    /// once, quiet hours or not: the patient is on the page waiting for it. One the SMS guard refuses
    /// (quota, country) is kept as failed and the booking stands.</summary>
    async Task<(Guid MessageId, SmsVerdict.Refused? Refused)?> QueueConfirmationAsync(DbSession s, BookingLink link, OpenLead lead, Guid bookingId, CancellationToken ct)
    {
        if (lead.Row.OptedOut) return null;
        var clinic = await s.QuerySingleOrDefaultAsync<ClinicView>(ClinicSql, new { link.ClinicId }, ct);
        var booking = await s.QuerySingleOrDefaultAsync<BookedView>(BookingSql, new { link.ClinicId, BookingId = bookingId, lead.Row.Procedure }, ct);
        var cancel = urls.For(CancelPath(link.ClinicId, booking!, link.LeadId));
        var when = ClinicTime.Spoken(booking!.StartsAt, ClinicTime.Zone(clinic!.Timezone));
        var body = SmsText.Fit($"Your {lead.Row.Procedure} consultation at {clinic.Name} is booked for {when} with {booking.Practitioner}."
                               + (clinic.Address is null ? "" : $" Address: {clinic.Address}.")
                               + $" Need to cancel? {cancel}");
        var refused = await guard.CheckAsync(s, link.ClinicId, lead.Contact.Phone, ct) as SmsVerdict.Refused;
        var messageId = await SmsContent.InsertAsync(s, vault, link.ClinicId, null, lead.PhoneHash, new SmsContent(lead.Contact.Phone, body), SmsPurpose.Confirmation, ct,
            status: refused is null ? "queued" : "failed", error: refused is null ? null : "refused: " + refused.Detail);
        if (refused is null)
            await Outbox.EnqueueAsync(s, link.ClinicId, SmsSender.JobKind, new SmsJob(messageId), null, ct);
        return (messageId, refused);
    }

    /// <summary>/book/cancel/{token}, valid until the appointment starts.</summary>
    public string CancelPath(Guid clinicId, BookedView booking, Guid leadId) =>
        "/book/cancel/" + cancelTokens.Create(clinicId, booking.BookingId, leadId, booking.StartsAt);

    /// <summary>The booking a cancel link names, with its status, or null.</summary>
    public async Task<(BookedView Booking, bool Live, ClinicView Clinic)?> CancelStateAsync(CancelLink link, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(Claims(link.ClinicId), ct);
        var clinic = await s.QuerySingleOrDefaultAsync<ClinicView>(ClinicSql, new { link.ClinicId }, ct);
        var procedure = await s.QuerySingleOrDefaultAsync<string>(
            "select procedure from leads where clinic_id = @ClinicId and id = @LeadId", new { link.ClinicId, link.LeadId }, ct);
        var booking = await s.QuerySingleOrDefaultAsync<BookedView>(BookingSql, new { link.ClinicId, link.BookingId, Procedure = procedure ?? "" }, ct);
        if (clinic is null || booking is null) return null;
        // An erased patient's links stop working: the page would still show their appointment.
        if (await s.QuerySingleOrDefaultAsync<bool>("""
                select exists (select 1 from bookings b join patients p on p.clinic_id = b.clinic_id and p.id = b.patient_id
                               where b.clinic_id = @ClinicId and b.id = @BookingId and p.erased_at is not null)
                """, new { link.ClinicId, link.BookingId }, ct))
            return null;
        var live = await s.QuerySingleOrDefaultAsync<bool>(
            "select status = 'confirmed' from bookings where clinic_id = @ClinicId and id = @BookingId", new { link.ClinicId, link.BookingId }, ct);
        return (booking, live, clinic);
    }

    /// <summary>Cancels the booking (frees its slot) and un-converts the lead; false when it was not live.</summary>
    public async Task<bool> CancelAsync(CancelLink link, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(Claims(link.ClinicId), ct);
        var outcome = await SlotEngine.CancelAsync(s, link.BookingId, link.ClinicId, ct);
        if (outcome.Status != 200) return false;
        await s.ExecuteAsync("""
            update leads set converted_booking_id = null, converted_at = null
            where clinic_id = @ClinicId and id = @LeadId and converted_booking_id = @BookingId
            """, new { link.ClinicId, link.LeadId, link.BookingId }, ct);
        await s.CommitAsync(ct);
        Log.Cancelled(log, link.ClinicId, link.BookingId);
        return true;
    }

    /// <summary>The procedure of the lead a cancel link belongs to (for a fresh booking link).</summary>
    public async Task<string?> LeadProcedureAsync(Guid clinicId, Guid leadId, CancellationToken ct) =>
        (await db.QueryOnceAsync<string>(Claims(clinicId), "select procedure from leads where clinic_id = @ClinicId and id = @LeadId",
            new { ClinicId = clinicId, LeadId = leadId }, ct)) is [var p] ? p : null;

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Booking page: clinic {ClinicId} lead {LeadId} booked {BookingId}")]
        public static partial void Booked(ILogger logger, Guid clinicId, Guid leadId, Guid bookingId);

        [LoggerMessage(Level = LogLevel.Information, Message = "Booking page: clinic {ClinicId} booking {BookingId} cancelled by the patient")]
        public static partial void Cancelled(ILogger logger, Guid clinicId, Guid bookingId);
    }
}
