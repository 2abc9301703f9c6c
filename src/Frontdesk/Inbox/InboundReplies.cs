using System.Text.RegularExpressions;
using Frontdesk.Audit;
using Frontdesk.Manage;
using Frontdesk.Messaging;
using Frontdesk.Privacy;

namespace Frontdesk.Inbox;

/// <summary>An inbox message's sender and text, sealed in <c>sms_replies.content</c> under the sender's caller key.</summary>
public sealed record InboundText(string From, string Text);

/// <summary>What a reply did.</summary>
public abstract record ReplyOutcome
{
    public sealed record Confirmed(Guid ClinicId, Guid ReplyId, Guid BookingId) : ReplyOutcome;
    public sealed record Rescheduling(Guid ClinicId, Guid ReplyId, Guid BookingId) : ReplyOutcome;
    public sealed record Inboxed(Guid ClinicId, Guid ReplyId, Guid? BookingId) : ReplyOutcome;
    /// <summary>Twilio delivered this MessageSid before: nothing more is done.</summary>
    public sealed record Duplicate : ReplyOutcome;
    /// <summary>The receiving number is shared by several clinics and none of them knows the sender.</summary>
    public sealed record NoClinic : ReplyOutcome;
    /// <summary>YES from a number with no upcoming booking: Twilio's opt-in keyword and nothing more.</summary>
    public sealed record OptInOnly : ReplyOutcome;
}

/// <summary>
/// Replies to reminders (issue 18), from the signature-checked Twilio inbound webhook. The sender's
/// booking is the one of the latest reminder sent to their number that is still upcoming, else their
/// next upcoming booking (patients' numbers, E.164) in the clinics the receiving number belongs to.
/// C / YES / CONFIRM set <c>bookings.confirmed_at</c> (audited) and are thanked; R / RESCHEDULE / CHANGE
/// get the booking's manage link; anything else — and a reply word from a number with no upcoming
/// booking, except Twilio's own YES — becomes an inbox item for staff, text sealed under the sender's caller key, with the
/// booking attached when there is one. A number with no booking still reaches the inbox of the clinic
/// that knows it (it texted the number, or has a patient with it; the only clinic on a number of its
/// own), so a question from a follow-up's recipient is not lost; a message to a sender number several
/// clinics share, from a number none of them knows, cannot be placed and is logged and dropped.
/// Twilio retries inbound webhooks: the MessageSid is the idempotency key (<c>sms_replies</c> unique per
/// clinic), so a retry neither confirms twice nor texts twice. Answers go through the outbox as
/// purpose <c>confirmation</c> (the patient is waiting for them: no quiet hours), the SMS guard and the
/// opt-out list.
/// </summary>
public sealed partial class InboundReplies(Db db, Vault vault, SmsGuard guard, Outbox outbox, ManageLinkToken manageLinks, PublicUrl urls,
    ILogger<InboundReplies> log)
{
    public const string Table = "sms_replies";
    static readonly RequestClaims Callback = RequestClaims.AsSystem(SystemPath.ProviderCallback);

    /// <summary>Twilio's MessageSid: SM/MM and 32 hex digits (any 2–64 letters and digits are taken).</summary>
    public static bool IsSid(string? sid) => sid is not null && Sid().IsMatch(sid);

    [GeneratedRegex("^[A-Za-z0-9]{2,64}$")]
    private static partial Regex Sid();

    sealed record Target(Guid ClinicId, Guid? BookingId);

    sealed record BookingFacts(DateTimeOffset StartsAt, string ClinicName, string Timezone);

    public async Task<ReplyOutcome> HandleAsync(IReadOnlyList<Guid> clinicIds, string from, string messageSid, string body, ReplyKind kind,
        CancellationToken ct)
    {
        await using var s = await db.BeginAsync(Callback, ct);
        var hashes = new byte[clinicIds.Count][];
        for (var i = 0; i < clinicIds.Count; i++) hashes[i] = await vault.CallerHashAsync(s, clinicIds[i], CallerSubject.Phone(from), ct);
        if (await TargetAsync(s, clinicIds, hashes, from, ct) is not { } target)
        {
            Log.NoClinic(log, clinicIds.Count);
            return new ReplyOutcome.NoClinic();
        }
        // YES is also Twilio's opt-in word (handled before this): without a booking to confirm it is nothing for staff.
        if (target.BookingId is null && ReplyWords.IsTwilioKeyword(body)) return new ReplyOutcome.OptInOnly();
        var clinicId = target.ClinicId;
        var hash = hashes[clinicIds.ToList().IndexOf(clinicId)];
        if (target.BookingId is null || kind is ReplyKind.Message) kind = ReplyKind.Message;

        var id = Guid.NewGuid();
        var content = kind is ReplyKind.Message
            ? await vault.SealForCallerAsync(s, clinicId, hash, Table, id.ToString(), new InboundText(from, SmsText.Fit(body.Trim())), ct)
            : null;
        // The idempotency gate: a retried delivery of the same message inserts nothing.
        var inserted = await s.QuerySingleOrDefaultAsync<Guid?>("""
            insert into sms_replies (clinic_id, id, message_sid, from_hash, kind, booking_id, content, status)
            values (@ClinicId, @Id, @Sid, @Hash, @Kind, @BookingId, @Content, @Status)
            on conflict (clinic_id, message_sid) do nothing
            returning id
            """, new
        {
            ClinicId = clinicId, Id = id, Sid = messageSid, Hash = hash, Kind = KindName(kind), target.BookingId, Content = content,
            Status = kind is ReplyKind.Message ? "open" : "answered",
        }, ct);
        if (inserted is null)
        {
            Log.Duplicate(log, clinicId);
            return new ReplyOutcome.Duplicate();
        }

        ReplyOutcome outcome;
        Guid? reply = null;
        switch (kind)
        {
            case ReplyKind.Confirm:
            {
                var b = await FactsAsync(s, clinicId, target.BookingId!.Value, ct);
                await s.ExecuteAsync("""
                    update bookings set confirmed_at = coalesce(confirmed_at, now()) where clinic_id = @ClinicId and id = @BookingId
                    """, new { ClinicId = clinicId, target.BookingId }, ct);
                await AuditLog.WriteAsync(s, clinicId, "confirmed", "booking", target.BookingId.ToString(),
                    new { via = "sms_reply", replyId = id }, ct, actor: "twilio:inbound");
                reply = await AnswerAsync(s, clinicId, hash, from,
                    $"Thank you, your appointment at {b.ClinicName} on {When(b)} is confirmed.", ct);
                outcome = new ReplyOutcome.Confirmed(clinicId, id, target.BookingId.Value);
                break;
            }
            case ReplyKind.Reschedule:
            {
                var b = await FactsAsync(s, clinicId, target.BookingId!.Value, ct);
                var link = urls.For(manageLinks.PathFor(clinicId, target.BookingId.Value, b.StartsAt));
                reply = await AnswerAsync(s, clinicId, hash, from,
                    $"To change your appointment at {b.ClinicName} on {When(b)}, choose a new time here: {link}", ct);
                await AuditLog.WriteAsync(s, clinicId, "reschedule_requested", "booking", target.BookingId.ToString(),
                    new { via = "sms_reply", replyId = id }, ct, actor: "twilio:inbound");
                outcome = new ReplyOutcome.Rescheduling(clinicId, id, target.BookingId.Value);
                break;
            }
            default:
                await AuditLog.WriteAsync(s, clinicId, "inbox_received", "sms_reply", id.ToString(),
                    new { bookingId = target.BookingId }, ct, actor: "twilio:inbound");
                outcome = new ReplyOutcome.Inboxed(clinicId, id, target.BookingId);
                break;
        }
        if (reply is not null)
            await s.ExecuteAsync("update sms_replies set reply_message_id = @Reply where clinic_id = @ClinicId and id = @Id",
                new { Reply = reply, ClinicId = clinicId, Id = id }, ct);
        await s.CommitAsync(ct);
        if (reply is not null) outbox.Signal();
        Log.Handled(log, clinicId, KindName(kind), id);
        return outcome;
    }

    static string KindName(ReplyKind kind) => kind switch
    {
        ReplyKind.Confirm => "confirm",
        ReplyKind.Reschedule => "reschedule",
        _ => "message",
    };

    static string When(BookingFacts b) => ClinicTime.Spoken(b.StartsAt, ClinicTime.Zone(b.Timezone));

    static async Task<BookingFacts> FactsAsync(DbSession s, Guid clinicId, Guid bookingId, CancellationToken ct) =>
        (await s.QuerySingleOrDefaultAsync<BookingFacts>("""
            select b.starts_at, c.name, c.timezone from bookings b join clinics c on c.id = b.clinic_id
            where b.clinic_id = @ClinicId and b.id = @BookingId
            """, new { ClinicId = clinicId, BookingId = bookingId }, ct))!;

    /// <summary>Our answer through the outbox; none to a number that opted out. A refusal by the SMS guard is kept as failed.</summary>
    async Task<Guid?> AnswerAsync(DbSession s, Guid clinicId, byte[] hash, string to, string text, CancellationToken ct)
    {
        if (await s.QuerySingleOrDefaultAsync<bool>(SmsOptOuts.ExistsSql, new { ClinicId = clinicId, Hash = hash, Phone = to }, ct)) return null;
        return (await SmsContent.QueueAsync(s, vault, guard, clinicId, hash, new SmsContent(to, SmsText.Fit(text)), SmsPurpose.Confirmation, null, ct)).MessageId;
    }

    /// <summary>Which clinic and booking a reply is about (see the class summary), or null when it cannot be placed.</summary>
    static async Task<Target?> TargetAsync(DbSession s, IReadOnlyList<Guid> clinicIds, byte[][] hashes, string from, CancellationToken ct)
    {
        if (clinicIds.Count == 0) return null;
        var args = new { Clinics = clinicIds.ToArray(), Hashes = hashes, From = from };
        // The booking of the latest reminder to this number that is still upcoming …
        var reminded = await s.QuerySingleOrDefaultAsync<Target>("""
            select b.clinic_id, b.id
            from unnest(@Clinics::uuid[], @Hashes::bytea[]) as t(clinic_id, hash)
            join sms_messages m on m.clinic_id = t.clinic_id and m.to_hash = t.hash and m.purpose = 'reminder'
            join booking_reminders r on r.clinic_id = m.clinic_id and r.message_id = m.id
            join bookings b on b.clinic_id = r.clinic_id and b.id = r.booking_id and b.starts_at = r.starts_at
            where b.status = 'confirmed' and b.starts_at > now()
            order by m.created_at desc
            limit 1
            """, args, ct);
        if (reminded is not null) return reminded;
        // … else the next upcoming booking of a patient with this number …
        var next = await s.QuerySingleOrDefaultAsync<Target>("""
            select b.clinic_id, b.id
            from bookings b join patients p on p.clinic_id = b.clinic_id and p.id = b.patient_id
            where b.clinic_id = any(@Clinics) and p.phone = @From and p.erased_at is null
              and b.status = 'confirmed' and b.starts_at > now()
            order by b.starts_at
            limit 1
            """, args, ct);
        if (next is not null) return next;
        // … else no booking: the clinic that last texted the number, or has it as a patient's, or the only one.
        var known = await s.QuerySingleOrDefaultAsync<Guid?>("""
            select clinic_id from (
              select m.clinic_id, m.created_at as at
              from unnest(@Clinics::uuid[], @Hashes::bytea[]) as t(clinic_id, hash)
              join sms_messages m on m.clinic_id = t.clinic_id and m.to_hash = t.hash
              union all
              select p.clinic_id, p.created_at from patients p
              where p.clinic_id = any(@Clinics) and p.phone = @From and p.erased_at is null
            ) k
            order by at desc
            limit 1
            """, args, ct);
        return known is { } c ? new Target(c, null) : clinicIds.Count == 1 ? new Target(clinicIds[0], null) : null;
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Inbound SMS for clinic {ClinicId}: {Kind} reply {ReplyId}")]
        public static partial void Handled(ILogger logger, Guid clinicId, string kind, Guid replyId);

        [LoggerMessage(Level = LogLevel.Information, Message = "Inbound SMS for clinic {ClinicId}: a retried delivery of a message already handled")]
        public static partial void Duplicate(ILogger logger, Guid clinicId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Inbound SMS not placed: the receiving number belongs to {Clinics} clinic(s) and none of them knows the sender")]
        public static partial void NoClinic(ILogger logger, int clinics);
    }
}
