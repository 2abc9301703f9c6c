using Frontdesk.Manage;
using Frontdesk.Messaging;
using Frontdesk.Privacy;

namespace Frontdesk.Booking;

/// <summary>What happened to a booking, for the patient's text.</summary>
public abstract record BookingChange
{
    /// <summary>Moved; <paramref name="PreviousStart"/> is where it was.</summary>
    public sealed record Moved(DateTimeOffset PreviousStart) : BookingChange;

    public sealed record Cancelled : BookingChange;
}

/// <summary>What became of the confirmation text: <c>queued</c>, <c>refused</c> (kept as failed, the
/// SMS guard's reason), <c>opted_out</c> (none written: the number said STOP) or <c>no_number</c>.</summary>
public sealed record ChangeSmsOutcome(string Status, Guid? MessageId)
{
    public bool Queued => Status == "queued";
}

/// <summary>
/// The text a patient gets when their booking is moved or cancelled by voice (issue 17), written in
/// the transaction that changed the booking: the SMS guard, then the sealed row and its outbox job.
/// Purpose <see cref="SmsPurpose.Message"/>: unlike <see cref="SmsPurpose.Confirmation"/> (which the
/// booking page's patient is waiting for on screen and goes out at once) it keeps the clinic's quiet
/// hours at send time, and its 24 h window outlasts the longest quiet night, so a change made late in
/// the evening is texted the next morning, not given up and not sent at 2 am. Opted-out numbers get
/// nothing (and the sender checks again before sending). A move carries the booking's manage link
/// (/manage/{token}, valid until the new start); a cancellation does not, since the link of a
/// cancelled booking shows nothing.
/// </summary>
public sealed class BookingChangeSms(Vault vault, SmsGuard guard, ManageLinkToken manage, PublicUrl urls, Outbox outbox)
{
    sealed record Details(string? Phone, DateTimeOffset StartsAt, string Practitioner, string ClinicName, string Timezone,
        string? ClinicPhone, string? Procedure);

    const string DetailsSql = """
        select p.phone, b.starts_at, pr.name, c.name, c.timezone, c.phone, cp.name
        from bookings b
        join clinics c on c.id = b.clinic_id
        join practitioners pr on pr.clinic_id = b.clinic_id and pr.id = b.practitioner_id
        left join patients p on p.clinic_id = b.clinic_id and p.id = b.patient_id and p.erased_at is null
        left join clinic_procedures cp on cp.clinic_id = b.clinic_id and cp.id = b.procedure_id
        where b.clinic_id = @ClinicId and b.id = @BookingId
        """;

    /// <summary>Queues the text for a change already made in <paramref name="s"/> (call after the slot
    /// engine answered 200); signals the outbox once the transaction commits.</summary>
    public async Task<ChangeSmsOutcome> QueueAsync(DbSession s, Guid clinicId, Guid bookingId, BookingChange change, CancellationToken ct)
    {
        var d = await s.QuerySingleOrDefaultAsync<Details>(DetailsSql, new { ClinicId = clinicId, BookingId = bookingId }, ct);
        if (d?.Phone is not { } phone) return new ChangeSmsOutcome("no_number", null);
        var hash = await vault.CallerHashAsync(s, clinicId, CallerSubject.Phone(phone), ct);
        if (await s.QuerySingleOrDefaultAsync<bool>(SmsOptOuts.ExistsSql, new { ClinicId = clinicId, Hash = hash, Phone = phone }, ct))
            return new ChangeSmsOutcome("opted_out", null);

        var body = SmsText.Fit(Text(d, change, clinicId, bookingId));
        var refused = await guard.CheckAsync(s, clinicId, phone, ct) as SmsVerdict.Refused;
        var id = await SmsContent.InsertAsync(s, vault, clinicId, null, hash, new SmsContent(phone, body), SmsPurpose.Message, ct,
            status: refused is null ? "queued" : "failed", error: refused is null ? null : "refused: " + refused.Detail);
        if (refused is not null) return new ChangeSmsOutcome("refused", id);
        await Outbox.EnqueueAsync(s, clinicId, SmsSender.JobKind, new SmsJob(id), null, ct);
        s.AfterCommit(outbox.Signal);
        return new ChangeSmsOutcome("queued", id);
    }

    string Text(Details d, BookingChange change, Guid clinicId, Guid bookingId)
    {
        var zone = ClinicTime.Zone(d.Timezone);
        var what = d.Procedure is null ? "appointment" : d.Procedure + " appointment";
        return change switch
        {
            BookingChange.Moved m =>
                $"{d.ClinicName}: your {what} has moved to {ClinicTime.Spoken(d.StartsAt, zone)} with {d.Practitioner} " +
                $"(it was {ClinicTime.Spoken(m.PreviousStart, zone)}). To change or cancel it: {urls.For(manage.PathFor(clinicId, bookingId, d.StartsAt))}",
            _ =>
                $"{d.ClinicName}: your {what} on {ClinicTime.Spoken(d.StartsAt, zone)} with {d.Practitioner} is cancelled." +
                (d.ClinicPhone is { Length: > 0 } p ? $" To book again, call {p}." : " To book again, call the clinic."),
        };
    }
}
