using System.Text.Json;
using Frontdesk.Privacy;

namespace Frontdesk.Messaging;

public sealed record SmsJob(Guid MessageId);

sealed record OutgoingSms(Guid Id, Guid ClinicId, string? ToPhone, string? Body, string Status, string? SmsFrom, Guid? FollowupId,
    string Purpose, string? TwilioSid, DateTimeOffset? AttemptStartedAt, string? Timezone, TimeOnly? QuietStart, TimeOnly? QuietEnd, bool OptedOut,
    DateTimeOffset? AppointmentAt, bool AppointmentLive);

/// <summary>
/// Sends one outbox "sms" job through Twilio. Never lose, never duplicate:
/// <list type="bullet">
/// <item>The attempt is recorded (status 'sending', attempt_started_at) before the request. Twilio has
/// no idempotency key, so an attempt whose outcome is unknown (5xx, timeout, connection lost, a crash
/// mid-request) becomes 'unknown' and is reconciled — the message is looked up in Twilio's Messages
/// list, and sent again only when Twilio has no record of it. The status callback carries our
/// message id and settles it sooner.</item>
/// <item>Transient failures are retried with capped backoff until the purpose's usefulness window
/// (<see cref="SmsOptions.Window"/>) has passed since the job first became due; then every row that
/// describes the message says 'failed' — or 'review' when Twilio may have it and we cannot tell.</item>
/// <item>Quiet hours and opt-outs are checked at send time (<see cref="SendRule"/>); waiting out quiet
/// hours is not an attempt.</item>
/// </list>
/// </summary>
public sealed partial class SmsSender(TwilioClient twilio, TwilioOptions options, SmsOptions sms, OutboxOptions outbox, Db db, PublicUrl urls, Vault vault,
    ILogger<SmsSender> log) : IOutboxHandler
{
    public const string JobKind = "sms";
    static readonly RequestClaims Worker = RequestClaims.AsSystem(SystemPath.Worker);

    // Statuses that mean "not at Twilio yet, or we do not know": everything else is final for the sender.
    static readonly HashSet<string> Open = ["queued", "sending", "unknown"];

    public string Kind => JobKind;
    public bool Ready => options.Configured;

    const string LoadSql = """
        select m.id, m.clinic_id, m.to_phone, m.body, m.status, c.sms_from, m.followup_id,
               m.purpose, m.twilio_sid, m.attempt_started_at, c.timezone, c.quiet_start, c.quiet_end,
               exists (select 1 from sms_opt_outs o where o.clinic_id = m.clinic_id and (o.phone_hash = m.to_hash or o.phone = m.to_phone)),
               rem.starts_at, coalesce(rem.live, false)
        from sms_messages m join clinics c on c.id = m.clinic_id
        -- A reminder's appointment (Reminders/): still live at the time the reminder was written for?
        left join lateral (
          select r.starts_at, b.status = 'confirmed' and b.starts_at = r.starts_at as live
          from booking_reminders r join bookings b on b.clinic_id = r.clinic_id and b.id = r.booking_id
          where r.clinic_id = m.clinic_id and r.message_id = m.id) rem on true
        where m.id = @Id
        """;

    public async Task<OutboxResult> HandleAsync(OutboxItem item, CancellationToken ct)
    {
        var job = item.Payload.Deserialize<SmsJob>(JsonSerializerOptions.Web);
        if (job is null) return new OutboxResult.Failed("payload has no messageId");
        var rows = await db.QueryOnceAsync<OutgoingSms>(Worker, LoadSql, new { Id = job.MessageId }, ct);
        if (rows is not [var m]) return new OutboxResult.Failed("message not found");
        if (m.TwilioSid is not null || !Open.Contains(m.Status)) return new OutboxResult.Done();

        // Recipient and text are sealed (issue 13): opened here, just before they are needed.
        if (await SmsContent.OpenAsync(db, vault, m.Id, ct) is not { } text)
            return await GiveUpAsync(m, "recipient erased or content purged");

        var now = DateTimeOffset.UtcNow;
        var deadline = item.DueAt + sms.Window(m.Purpose);
        var from = m.SmsFrom ?? options.From;

        // A previous attempt may have reached Twilio: find out before anything else.
        if (m.Status is "sending" or "unknown")
        {
            if (m.Status == "sending")
            {
                await SetAsync(m, "unknown", null, "attempt outcome unknown (worker stopped mid-request)", null);
                Log.OutcomeUnknown(log, m.Id);
            }
            var lookAt = (m.AttemptStartedAt ?? now) + sms.ReconcileDelay;
            if (lookAt > now) return new OutboxResult.Defer(lookAt, "waiting to look the message up at Twilio");
            if (string.IsNullOrWhiteSpace(from))
                return await ReviewAsync(m, "outcome unknown and no sender number to look it up by");
            switch (await twilio.FindAsync(text.To, from, text.Body, m.AttemptStartedAt ?? item.DueAt, ct))
            {
                case TwilioLookup.Found f:
                    await SetAsync(m, f.Status, f.Sid, null, null);
                    Log.Reconciled(log, m.Id);
                    return new OutboxResult.Done();
                case TwilioLookup.Failed l:
                    if (now > deadline) return await ReviewAsync(m, "outcome unknown and Twilio could not be asked before the window ended: " + l.Message);
                    return new OutboxResult.Retry(now + Wait(item.Attempts, l.RetryAfter), "lookup: " + l.Message);
                default:
                    // Twilio has no record: the attempt never created a message, so sending is not a duplicate.
                    await SetAsync(m, "queued", null, "not found at Twilio after an unknown outcome; sending again", null);
                    Log.NotAtTwilio(log, m.Id);
                    break;
            }
        }

        // A reminder whose booking was cancelled or moved since it was queued is not sent.
        if (m.AppointmentAt is not null && !m.AppointmentLive)
        {
            await SetAsync(m, "cancelled", null, "not sent: the booking was cancelled or moved", null);
            Log.BookingGone(log, m.Id);
            return new OutboxResult.Done();
        }

        if (now > deadline)
            return await GiveUpAsync(m, $"gave up: not sent within the {m.Purpose} window ({sms.Window(m.Purpose).TotalHours:0.##} h)");

        switch (SendRule.Decide(now, m.Purpose, m.OptedOut, m.QuietStart, m.QuietEnd, ClinicTime.Zone(m.Timezone), m.AppointmentAt))
        {
            case SendDecision.OptedOut:
                await SetAsync(m, "failed", null, "recipient opted out", TwilioClient.OptedOut);
                return new OutboxResult.Failed("recipient opted out");
            case SendDecision.TooLate:
                return await GiveUpAsync(m, "not sent: it could not go before the appointment (quiet hours or failed attempts until then)");
            case SendDecision.Wait w:
                Log.QuietHours(log, m.Id);
                return new OutboxResult.Defer(w.At, "quiet hours");
        }
        if (string.IsNullOrWhiteSpace(from))
        {
            await SetAsync(m, "failed", null, "no sender: set TWILIO_FROM or the clinic's smsFrom", null);
            return new OutboxResult.Failed("no sender number");
        }

        // Claim the send: only one worker moves queued → sending, and never a message Twilio has.
        var claimed = await db.QueryOnceAsync<int>(Worker, """
            update sms_messages set status = 'sending', attempts = attempts + 1, attempt_started_at = now(), updated_at = now()
            where id = @Id and status = 'queued' and twilio_sid is null returning 1
            """, new { m.Id }, ct);
        if (claimed.Count == 0) return new OutboxResult.Done();

        var result = await twilio.SendAsync(text.To, from, text.Body, StatusCallback(m.Id), ct);
        switch (result)
        {
            case TwilioSendResult.Accepted a:
                await SetAsync(m, a.Status, a.Sid, null, null);
                Log.Accepted(log, m.Id);
                return new OutboxResult.Done();
            case TwilioSendResult.Transient t:
                var error = TwilioClient.Describe(t.Code, t.Message);
                var at = now + Wait(item.Attempts, t.RetryAfter);
                if (at > deadline)
                    return await GiveUpAsync(m, $"gave up: not sent within the {m.Purpose} window; last error {error}", t.Code);
                await SetAsync(m, "queued", null, error, t.Code);
                Log.Transient(log, m.Id, t.Code ?? 0);
                return new OutboxResult.Retry(at, error);
            case TwilioSendResult.Permanent p:
                await SetAsync(m, "failed", null, TwilioClient.Describe(p.Code, p.Message), p.Code);
                if (p.Code == TwilioClient.OptedOut)
                    await SmsOptOuts.AddForMessageAsync(db, vault, m.Id, text.To, "twilio-21610", CancellationToken.None);
                Log.Permanent(log, m.Id, p.Code ?? 0);
                return new OutboxResult.Failed(TwilioClient.Describe(p.Code, p.Message));
            case TwilioSendResult.Ambiguous u:
                var why = TwilioClient.Describe(u.Code, u.Message);
                await SetAsync(m, "unknown", null, why + " (reconciling)", u.Code);
                Log.OutcomeUnknown(log, m.Id);
                var lookup = sms.ReconcileDelay > (u.RetryAfter ?? TimeSpan.Zero) ? sms.ReconcileDelay : u.RetryAfter!.Value;
                return new OutboxResult.Retry(DateTimeOffset.UtcNow + lookup, why);
            default:
                throw new InvalidOperationException("unknown send result");
        }
    }

    /// <summary>Our message id rides in the callback URL, so a callback settles an attempt whose answer we never read.</summary>
    string StatusCallback(Guid messageId) => urls.For("/twilio/status?m=" + messageId.ToString("N"));

    TimeSpan Wait(int attempts, TimeSpan? retryAfter)
    {
        var wait = outbox.Backoff(attempts);
        return retryAfter is { } ra && ra > wait ? ra : wait;
    }

    public async Task<OutboxResult> GiveUpAsync(OutboxItem item, string reason, CancellationToken ct)
    {
        var job = item.Payload.Deserialize<SmsJob>(JsonSerializerOptions.Web);
        var rows = job is null ? [] : await db.QueryOnceAsync<OutgoingSms>(Worker, LoadSql, new { Id = job.MessageId }, ct);
        if (rows is not [var m]) return new OutboxResult.Failed(reason);
        if (m.TwilioSid is not null || !Open.Contains(m.Status)) return new OutboxResult.Done();
        return m.Status == "queued" ? await GiveUpAsync(m, reason) : await ReviewAsync(m, reason);
    }

    async Task<OutboxResult> GiveUpAsync(OutgoingSms m, string reason, int? code = null)
    {
        await SetAsync(m, "failed", null, reason, code);
        Log.GaveUp(log, m.Id);
        return new OutboxResult.Failed(reason);
    }

    /// <summary>Twilio may have the message and we cannot tell: a person decides (review queue).</summary>
    async Task<OutboxResult> ReviewAsync(OutgoingSms m, string reason)
    {
        await SetAsync(m, "review", null, reason, null);
        Log.HeldForReview(log, m.Id);
        return new OutboxResult.Review(reason);
    }

    // Not cancellable: what happened at Twilio must be recorded even while the host stops. The
    // follow-up row says the same as its message (SmsStatus.FollowUpStatusSql).
    Task<IReadOnlyList<int>> SetAsync(OutgoingSms m, string status, string? sid, string? error, int? code) =>
        db.QueryOnceAsync<int>(Worker, $"""
            with m as (
              update sms_messages set status = @Status, twilio_sid = coalesce(@Sid, twilio_sid),
                     error_message = @Error, error_code = coalesce(@Code, error_code), updated_at = now()
              where id = @Id returning followup_id, clinic_id, status, twilio_sid
            )
            update lead_followups f set status = {SmsStatus.FollowUpStatusSql("m.status", "m.twilio_sid")}
            from m where f.id = m.followup_id and f.clinic_id = m.clinic_id
            returning 1
            """, new { m.Id, Status = status, Sid = sid, Error = error is { Length: > 500 } ? error[..500] : error, Code = code }, CancellationToken.None);

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "SMS {MessageId} accepted by Twilio")]
        public static partial void Accepted(ILogger logger, Guid messageId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "SMS {MessageId}: transient Twilio failure {Code}; retry scheduled")]
        public static partial void Transient(ILogger logger, Guid messageId, int code);

        [LoggerMessage(Level = LogLevel.Warning, Message = "SMS {MessageId}: rejected by Twilio with {Code}; not retried")]
        public static partial void Permanent(ILogger logger, Guid messageId, int code);

        [LoggerMessage(Level = LogLevel.Warning, Message = "SMS {MessageId}: outcome unknown; it will be looked up at Twilio before any resend")]
        public static partial void OutcomeUnknown(ILogger logger, Guid messageId);

        [LoggerMessage(Level = LogLevel.Information, Message = "SMS {MessageId}: found at Twilio after an unknown outcome; not resent")]
        public static partial void Reconciled(ILogger logger, Guid messageId);

        [LoggerMessage(Level = LogLevel.Information, Message = "SMS {MessageId}: Twilio has no record of the unknown attempt; sending again")]
        public static partial void NotAtTwilio(ILogger logger, Guid messageId);

        [LoggerMessage(Level = LogLevel.Information, Message = "SMS {MessageId}: its booking was cancelled or moved; not sent")]
        public static partial void BookingGone(ILogger logger, Guid messageId);

        [LoggerMessage(Level = LogLevel.Information, Message = "SMS {MessageId}: quiet hours at the clinic; deferred")]
        public static partial void QuietHours(ILogger logger, Guid messageId);

        [LoggerMessage(Level = LogLevel.Error, Message = "SMS {MessageId}: given up after its usefulness window; marked failed")]
        public static partial void GaveUp(ILogger logger, Guid messageId);

        [LoggerMessage(Level = LogLevel.Error, Message = "SMS {MessageId}: outcome unknown and cannot be settled; held for review")]
        public static partial void HeldForReview(ILogger logger, Guid messageId);
    }
}

/// <summary>How a message's status reads on the rows that describe it.</summary>
public static class SmsStatus
{
    /// <summary>lead_followups.status from a message's status and sid: accepted by Twilio is 'sent'
    /// (delivery is the message's own business), 'unknown' is still ours to settle ('queued').</summary>
    public static string FollowUpStatusSql(string status, string sid) => $"""
        case when {status} in ('failed', 'undelivered') then 'failed'
             when {status} = 'review' then 'review'
             when {status} = 'cancelled' then 'cancelled'
             when {sid} is not null or {status} in ('sent', 'delivered', 'read', 'receiving', 'received') then 'sent'
             else 'queued' end
        """;
}
