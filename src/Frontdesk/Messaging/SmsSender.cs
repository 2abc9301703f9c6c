using System.Text.Json;
using Frontdesk.Privacy;

namespace Frontdesk.Messaging;

public sealed record SmsJob(Guid MessageId);

sealed record OutgoingSms(Guid Id, Guid ClinicId, string ToPhone, string Body, string Status, string? SmsFrom, Guid? FollowupId);

/// <summary>
/// Sends one outbox "sms" job through Twilio. The attempt is recorded (status 'sending') before the
/// request, so a crash mid-request leaves evidence: such a message becomes 'unknown' and goes to
/// review instead of being sent twice — Twilio has no idempotency key, and a duplicate SMS to a
/// patient is worse than a late one a person checks.
/// </summary>
public sealed partial class SmsSender(TwilioClient twilio, TwilioOptions options, Db db, PublicUrl urls, Vault vault,
    ILogger<SmsSender> log) : IOutboxHandler
{

    public const string JobKind = "sms";
    static readonly RequestClaims Worker = RequestClaims.AsSystem(SystemPath.Worker);

    public string Kind => JobKind;
    public bool Ready => options.Configured;

    public async Task<OutboxResult> HandleAsync(OutboxItem item, CancellationToken ct)
    {
        var job = item.Payload.Deserialize<SmsJob>(JsonSerializerOptions.Web);
        if (job is null) return new OutboxResult.Failed("payload has no messageId");
        var rows = await db.QueryOnceAsync<OutgoingSms>(Worker, """
            select m.id, m.clinic_id, m.to_phone, m.body, m.status, c.sms_from, m.followup_id
            from sms_messages m join clinics c on c.id = m.clinic_id
            where m.id = @Id
            """, new { Id = job.MessageId }, ct);
        if (rows is not [var sms]) return new OutboxResult.Failed("message not found");

        switch (sms.Status)
        {
            case "sending":
                await SetAsync(sms, "unknown", null, "attempt outcome unknown (worker stopped mid-request)", null);
                Log.OutcomeUnknown(log, sms.Id);
                return new OutboxResult.Review("previous attempt outcome unknown");
            case not "queued":
                return new OutboxResult.Done();
        }

        // Recipient and text are sealed (issue 13): opened here, just before they are needed.
        if (await SmsContent.OpenAsync(db, vault, sms.Id, ct) is not { } text)
        {
            await SetAsync(sms, "failed", null, "recipient erased or content purged", null);
            return new OutboxResult.Failed("message content is gone");
        }
        sms = sms with { ToPhone = text.To, Body = text.Body };

        var optedOut = await db.QueryOnceAsync<bool>(Worker, SmsOptOuts.ExistsForMessageSql, new { sms.Id, Phone = sms.ToPhone }, ct);
        if (optedOut[0])
        {
            await SetAsync(sms, "failed", null, "recipient opted out", TwilioClient.OptedOut);
            return new OutboxResult.Failed("recipient opted out");
        }
        var from = sms.SmsFrom ?? options.From;
        if (string.IsNullOrWhiteSpace(from))
        {
            await SetAsync(sms, "failed", null, "no sender: set TWILIO_FROM or the clinic's smsFrom", null);
            return new OutboxResult.Failed("no sender number");
        }

        // Claim the send: only one worker moves queued → sending.
        var claimed = await db.QueryOnceAsync<int>(Worker, """
            update sms_messages set status = 'sending', attempts = attempts + 1, updated_at = now()
            where id = @Id and status = 'queued' returning 1
            """, new { sms.Id }, ct);
        if (claimed.Count == 0) return new OutboxResult.Done();

        var result = await twilio.SendAsync(sms.ToPhone, from, sms.Body, urls.For("/twilio/status"), ct);
        switch (result)
        {
            case TwilioSendResult.Accepted a:
                await SetAsync(sms, a.Status, a.Sid, null, null);
                Log.Accepted(log, sms.Id);
                return new OutboxResult.Done();
            case TwilioSendResult.Transient t:
                await SetAsync(sms, "queued", null, TwilioClient.Describe(t.Code, t.Message), t.Code);
                var wait = Outbox.Backoff(item.Attempts);
                if (t.RetryAfter is { } ra && ra > wait) wait = ra;
                Log.Transient(log, sms.Id, t.Code ?? 0);
                return new OutboxResult.Retry(DateTimeOffset.UtcNow + wait, TwilioClient.Describe(t.Code, t.Message));
            case TwilioSendResult.Permanent p:
                await SetAsync(sms, "failed", null, TwilioClient.Describe(p.Code, p.Message), p.Code);
                if (p.Code == TwilioClient.OptedOut)
                    await SmsOptOuts.AddForMessageAsync(db, vault, sms.Id, sms.ToPhone, "twilio-21610", ct);
                Log.Permanent(log, sms.Id, p.Code ?? 0);
                return new OutboxResult.Failed(TwilioClient.Describe(p.Code, p.Message));
            case TwilioSendResult.Unknown u:
                await SetAsync(sms, "unknown", null, u.Message, null);
                Log.OutcomeUnknown(log, sms.Id);
                return new OutboxResult.Review(u.Message);
            default:
                throw new InvalidOperationException("unknown send result");
        }
    }

    // Not cancellable: what happened at Twilio must be recorded even while the host stops.
    Task<IReadOnlyList<int>> SetAsync(OutgoingSms sms, string status, string? sid, string? error, int? code) =>
        db.QueryOnceAsync<int>(Worker, """
            with m as (
              update sms_messages set status = @Status, twilio_sid = coalesce(@Sid, twilio_sid),
                     error_message = @Error, error_code = coalesce(@Code, error_code), updated_at = now()
              where id = @Id returning followup_id, clinic_id
            )
            update lead_followups f set status = case when @Status in ('failed', 'undelivered') then 'failed'
                                                       when @Status in ('queued', 'sending') then 'queued' else 'sent' end
            from m where f.id = m.followup_id and f.clinic_id = m.clinic_id
            returning 1
            """, new { sms.Id, Status = status, Sid = sid, Error = error, Code = code }, CancellationToken.None);

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "SMS {MessageId} accepted by Twilio")]
        public static partial void Accepted(ILogger logger, Guid messageId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "SMS {MessageId}: transient Twilio failure {Code}; retry scheduled")]
        public static partial void Transient(ILogger logger, Guid messageId, int code);

        [LoggerMessage(Level = LogLevel.Warning, Message = "SMS {MessageId}: rejected by Twilio with {Code}; not retried")]
        public static partial void Permanent(ILogger logger, Guid messageId, int code);

        [LoggerMessage(Level = LogLevel.Error, Message = "SMS {MessageId}: outcome unknown; held for manual review, not resent")]
        public static partial void OutcomeUnknown(ILogger logger, Guid messageId);
    }
}
