using Frontdesk.Booking;
using Frontdesk.BookingPage;
using Frontdesk.Messaging;
using Frontdesk.Privacy;

namespace Frontdesk.Manage;

/// <summary>Where the booking a manage link names stands.</summary>
public enum ManageStatus
{
    /// <summary>Confirmed and still ahead: the page may move or cancel it.</summary>
    Live,
    /// <summary>Cancelled (by the patient, staff or the voice agent): the link is dead.</summary>
    Cancelled,
    /// <summary>The appointment has started (or the link's own expiry passed): the link is dead.</summary>
    Started,
}

public sealed record ManageState(ClinicView Clinic, BookedView Booking, ManageStatus Status);

public abstract record MoveResult
{
    /// <summary><paramref name="Texted"/>: the new time went to the patient's phone (not when they opted out,
    /// have no number, or the clinic may not text it).</summary>
    public sealed record Moved(BookedView Booking, bool Texted) : MoveResult;
    /// <summary>Someone else got the time first: the nearest suitable free times instead.</summary>
    public sealed record Taken(IReadOnlyList<SlotChoice> Alternatives) : MoveResult;
    /// <summary>Not a time this booking can move to (unknown, another practitioner's, too short, or past).</summary>
    public sealed record NoSuchSlot : MoveResult;
    /// <summary>The booking is no longer live (cancelled, started, or its patient erased).</summary>
    public sealed record NotLive : MoveResult;
}

/// <summary>
/// The manage page's database work (issue 18). Every statement runs with the booking's clinic's
/// claims (the signed link proves the clinic; app role <c>patient</c>, subject <c>manage_link</c>),
/// so RLS applies and the slot engine's audit rows name the manage link as the actor. Moves and
/// cancels go through the slot engine (one transaction with the confirmation text); the calendar
/// outbox follows every booking change by trigger.
/// </summary>
public sealed partial class ManageFlow(Db db, Outbox outbox, ManageLinkToken tokens, PublicUrl urls, BookingPageOptions options,
    Vault vault, SmsGuard guard, ILogger<ManageFlow> log)
{
    /// <summary>The audit actor of every change made from a manage page (stats count moves by it).</summary>
    public const string Actor = "manage_link";

    public static RequestClaims Claims(Guid clinicId) => RequestClaims.ForClinic(clinicId, Actor, Tenancy.Roles.Patient);

    sealed record Row(Guid BookingId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Practitioner, string Procedure,
        string Status, Guid SlotId, Guid PractitionerId, string? Phone, bool PatientErased, Guid? ProcedureId)
    {
        public BookedView View => new(BookingId, StartsAt, EndsAt, Practitioner, Procedure);
        public TimeSpan Length => EndsAt - StartsAt;
    }

    const string ClinicSql = "select name, timezone, address, phone from clinics where id = @ClinicId";

    // The procedure is what the booking was made for, where Frontdesk knows it: the one recorded on the
    // booking (voice, booking page, waitlist: issue 17), else the lead it converted or the waitlist entry it closed.
    const string RowSql = """
        select b.id, b.starts_at, b.ends_at, pr.name,
               coalesce((select cp.name from clinic_procedures cp where cp.clinic_id = b.clinic_id and cp.id = b.procedure_id),
                        (select l.procedure from leads l where l.clinic_id = b.clinic_id and l.converted_booking_id = b.id limit 1),
                        (select cp.name from waitlist_entries e join clinic_procedures cp on cp.clinic_id = e.clinic_id and cp.id = e.procedure_id
                          where e.clinic_id = b.clinic_id and e.booking_id = b.id limit 1), ''),
               b.status, b.slot_id, b.practitioner_id, p.phone, coalesce(p.erased_at is not null, true), b.procedure_id
        from bookings b
        join practitioners pr on pr.clinic_id = b.clinic_id and pr.id = b.practitioner_id
        left join patients p on p.clinic_id = b.clinic_id and p.id = b.patient_id
        where b.clinic_id = @ClinicId and b.id = @BookingId
        """;

    public async Task<ClinicView?> ClinicAsync(Guid clinicId, CancellationToken ct) =>
        (await db.QueryOnceAsync<ClinicView>(Claims(clinicId), ClinicSql, new { ClinicId = clinicId }, ct)) is [var c] ? c : null;

    /// <summary>The clinic and booking of a link, or null when there is nothing to show: the booking or
    /// clinic is gone, or its patient was erased (the page then names nothing).</summary>
    public async Task<ManageState?> StateAsync(ManageLink link, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(Claims(link.ClinicId), ct);
        var clinic = await s.QuerySingleOrDefaultAsync<ClinicView>(ClinicSql, new { link.ClinicId }, ct);
        var row = await s.QuerySingleOrDefaultAsync<Row>(RowSql, new { link.ClinicId, link.BookingId }, ct);
        if (clinic is null || row is null || row.PatientErased) return null;
        return new ManageState(clinic, row.View, StatusOf(row, link));
    }

    static ManageStatus StatusOf(Row row, ManageLink link) =>
        row.Status != "confirmed" ? ManageStatus.Cancelled
        : row.StartsAt <= DateTimeOffset.UtcNow || link.ExpiresAt <= DateTimeOffset.UtcNow ? ManageStatus.Started
        : ManageStatus.Live;

    // A slot the booking could move to (aliased s). With the booking's procedure known (bookings.procedure_id),
    // the practitioners who consult for it and the consultation length, as voice booking reads them
    // (issue 17, ProcedureFit); a procedure without a length keeps the booking's own length. Without a
    // procedure, the practitioner it is booked with, at least as long.
    const string SuitsCondition = $"""
        s.clinic_id = @ClinicId and s.starts_at > now()
          and (not @OwnOnly or s.practitioner_id = @Own)
          and s.ends_at - s.starts_at >= @Length
          and {ProcedureFit.SlotCondition}
        """;

    // Free (the booking's own slot is claimed, so never among them), within the page's horizon.
    const string FreeCondition = """
        s.starts_at < now() + make_interval(days => @Days)
          and s.claimed_by is null and not s.busy
          and (s.hold_expires_at is null or s.hold_expires_at <= now())
        """;

    const string FreeSql = $"""
        select s.id, s.starts_at, s.ends_at, p.name
        from calendar_slots s join practitioners p on p.clinic_id = s.clinic_id and p.id = s.practitioner_id
        where {SuitsCondition} and {FreeCondition}
        order by s.starts_at, p.name
        limit @Limit
        """;

    // The 409's alternatives: suitable free times nearest the one just taken, ranked as the slot engine
    // ranks its own (|Δ start| + 2 h for another practitioner than the booking's).
    const string NearestSql = $"""
        select s.id, s.starts_at, s.ends_at, p.name
        from calendar_slots s join practitioners p on p.clinic_id = s.clinic_id and p.id = s.practitioner_id
        where {SuitsCondition} and {FreeCondition} and s.id <> @Target
        order by abs(extract(epoch from s.starts_at - (select t.starts_at from calendar_slots t where t.clinic_id = @ClinicId and t.id = @Target)))
                 + case when s.practitioner_id = @Own then 0 else 7200 end, s.id
        limit 5
        """;

    /// <summary>The parameters of <see cref="SuitsCondition"/> and the queries built on it; <see cref="Target"/>
    /// is the slot asked for (a move's, or the one just taken).</summary>
    sealed record Suits(Guid ClinicId, Guid Own, bool OwnOnly, TimeSpan Length, bool FitRestricted, Guid[] FitPractitioners,
        int? FitMinutes, int Days, int Limit, Guid Target);

    async Task<Suits> SuitsAsync(DbSession s, Guid clinicId, Row row, CancellationToken ct)
    {
        var fit = await ProcedureFits.ByIdAsync(s, clinicId, row.ProcedureId, ct);
        var (restricted, practitioners, minutes) = ProcedureFit.Parameters(fit);
        return new Suits(clinicId, row.PractitionerId, OwnOnly: fit is null,
            Length: fit?.ConsultationMinutes is null ? row.Length : TimeSpan.Zero, restricted, practitioners, minutes,
            options.Days, options.MaxSlots, Guid.Empty);
    }

    /// <summary>Free times the booking could move to: suitable practitioners, long enough, in the page's horizon.</summary>
    public async Task<IReadOnlyList<SlotChoice>> FreeSlotsAsync(ManageLink link, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(Claims(link.ClinicId), ct);
        var row = await s.QuerySingleOrDefaultAsync<Row>(RowSql, new { link.ClinicId, link.BookingId }, ct);
        return row is null ? [] : await FreeAsync(s, link.ClinicId, row, ct);
    }

    async Task<IReadOnlyList<SlotChoice>> FreeAsync(DbSession s, Guid clinicId, Row row, CancellationToken ct) =>
        await s.QueryAsync<SlotChoice>(FreeSql, await SuitsAsync(s, clinicId, row, ct), ct);

    /// <summary>Moves the booking to <paramref name="slotId"/> through the slot engine (the new slot
    /// claimed and the old one freed in one statement, or nothing), and texts the new time with a
    /// fresh manage link — one transaction.</summary>
    public async Task<MoveResult> MoveAsync(ManageLink link, Guid slotId, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(Claims(link.ClinicId), ct);
        // Row lock: a second move or a cancel of the same booking (another tab, the agent) waits.
        await s.ExecuteAsync("select 1 from bookings where clinic_id = @ClinicId and id = @BookingId for update", new { link.ClinicId, link.BookingId }, ct);
        var row = await s.QuerySingleOrDefaultAsync<Row>(RowSql, new { link.ClinicId, link.BookingId }, ct);
        if (row is null || row.PatientErased || StatusOf(row, link) != ManageStatus.Live) return new MoveResult.NotLive();
        // Only a time the page could have offered: a forged form cannot move the booking to the diary of a
        // practitioner who does not consult for its procedure, or into a slot too short for it.
        var suits = await SuitsAsync(s, link.ClinicId, row, ct);
        // Within the page's horizon too: a forged form cannot reach further ahead than the page offers.
        if (!await s.QuerySingleOrDefaultAsync<bool>(
                $"select exists (select 1 from calendar_slots s where s.id = @Target and {SuitsCondition} and s.starts_at < now() + make_interval(days => @Days))",
                suits with { Target = slotId }, ct))
            return new MoveResult.NoSuchSlot();

        var outcome = await SlotEngine.MoveAsync(s, link.BookingId, slotId, link.ClinicId, ct);
        switch (outcome.Status)
        {
            case 200:
                var moved = await s.QuerySingleOrDefaultAsync<Row>(RowSql, new { link.ClinicId, link.BookingId }, ct);
                var clinic = await s.QuerySingleOrDefaultAsync<ClinicView>(ClinicSql, new { link.ClinicId }, ct);
                var sms = moved!.Phone is { } phone && outcome.Moved
                    ? await PatientSms.QueueAsync(s, vault, guard, link.ClinicId, phone, MovedText(link.ClinicId, clinic!, moved), SmsPurpose.Confirmation, ct)
                    : null;
                await s.CommitAsync(ct);
                if (sms is PatientSmsOutcome.Queued) outbox.Signal();
                Log.Moved(log, link.ClinicId, link.BookingId);
                return new MoveResult.Moved(moved.View, sms is PatientSmsOutcome.Queued);
            case 409:
                var alternatives = await s.QueryAsync<SlotChoice>(NearestSql, suits with { Target = slotId }, ct);
                return new MoveResult.Taken(alternatives.Count > 0 ? alternatives : await FreeAsync(s, link.ClinicId, row, ct));
            case 404 when outcome.Error?.StartsWith("Booking", StringComparison.Ordinal) == true:
                return new MoveResult.NotLive();
            default:
                return new MoveResult.NoSuchSlot();
        }
    }

    /// <summary>Cancels the booking through the slot engine (the slot freed for others, the waitlist
    /// told by the database), un-converts a lead it came from, and texts the cancellation; false when
    /// it was not live.</summary>
    public async Task<bool> CancelAsync(ManageLink link, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(Claims(link.ClinicId), ct);
        await s.ExecuteAsync("select 1 from bookings where clinic_id = @ClinicId and id = @BookingId for update", new { link.ClinicId, link.BookingId }, ct);
        var row = await s.QuerySingleOrDefaultAsync<Row>(RowSql, new { link.ClinicId, link.BookingId }, ct);
        if (row is null || row.PatientErased || StatusOf(row, link) != ManageStatus.Live) return false;
        var outcome = await SlotEngine.CancelAsync(s, link.BookingId, link.ClinicId, ct);
        if (outcome.Status != 200) return false;
        // Like the booking page's cancel: the lead's booking link works again.
        await s.ExecuteAsync("""
            update leads set converted_booking_id = null, converted_at = null
            where clinic_id = @ClinicId and converted_booking_id = @BookingId
            """, new { link.ClinicId, link.BookingId }, ct);
        var clinic = await s.QuerySingleOrDefaultAsync<ClinicView>(ClinicSql, new { link.ClinicId }, ct);
        if (row.Phone is { } phone)
            await PatientSms.QueueAsync(s, vault, guard, link.ClinicId, phone, CancelledText(clinic!, row), SmsPurpose.Confirmation, ct);
        await s.CommitAsync(ct);
        outbox.Signal();   // the text, and the waitlist's look at the freed slot
        Log.Cancelled(log, link.ClinicId, link.BookingId);
        return true;
    }

    /// <summary>The booking's manage page (absolute), valid until it starts.</summary>
    public string Url(Guid clinicId, BookedView booking) => urls.For(tokens.PathFor(clinicId, booking.BookingId, booking.StartsAt));

    string MovedText(Guid clinicId, ClinicView clinic, Row b)
    {
        var when = ClinicTime.Spoken(b.StartsAt, ClinicTime.Zone(clinic.Timezone));
        var what = b.Procedure.Length == 0 ? "appointment" : b.Procedure + " consultation";
        return $"{clinic.Name}: your {what} is now {when} with {b.Practitioner}."
               + (clinic.Address is null ? "" : $" Address: {clinic.Address}.")
               + $" To change or cancel: {Url(clinicId, b.View)}";
    }

    static string CancelledText(ClinicView clinic, Row b)
    {
        var when = ClinicTime.Spoken(b.StartsAt, ClinicTime.Zone(clinic.Timezone));
        return $"{clinic.Name}: your appointment on {when} with {b.Practitioner} is cancelled."
               + (clinic.Phone is null ? "" : $" To book another time, call {clinic.Phone}.");
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Manage link: clinic {ClinicId} booking {BookingId} moved by the patient")]
        public static partial void Moved(ILogger logger, Guid clinicId, Guid bookingId);

        [LoggerMessage(Level = LogLevel.Information, Message = "Manage link: clinic {ClinicId} booking {BookingId} cancelled by the patient")]
        public static partial void Cancelled(ILogger logger, Guid clinicId, Guid bookingId);
    }
}
