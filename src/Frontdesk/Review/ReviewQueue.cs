using Frontdesk.Privacy;
using Frontdesk.Audit;
using Frontdesk.Messaging;

namespace Frontdesk.Review;

/// <summary>One message or job that needs a person. <paramref name="Id"/> is what
/// <c>POST …/review/{id}</c> takes: a message's uuid, or <c>job-{n}</c> for an outbox job of another kind.</summary>
public sealed record ReviewItem(string Id, string Kind, string Status, string? Reason, int Attempts, DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt, string? Purpose, Guid? LeadId, Guid? FollowupId, IReadOnlyList<string> Actions);

/// <summary>What a review action did.</summary>
public abstract record ReviewOutcome
{
    public sealed record Applied(string Id, string Action, string Status, Guid? NewMessageId) : ReviewOutcome;
    public sealed record NotFound : ReviewOutcome;
    /// <summary>The item is no longer in a state the action applies to, or the recipient opted out.</summary>
    public sealed record Conflict(string Detail) : ReviewOutcome;
}

public static class ReviewActions
{
    public const string Resend = "resend";
    public const string MarkSent = "mark_sent";
    public const string Cancel = "cancel";
    public static readonly IReadOnlyList<string> All = [Resend, MarkSent, Cancel];
}

/// <summary>
/// The queue of what the outbox could not finish on its own (ARCHITECTURE decision 13): SMS whose
/// outcome Twilio could not settle ('review'), messages that failed or went undelivered, and jobs of
/// other kinds that failed or stopped for review. Runs in the caller's tenant session, so RLS scopes
/// it; used by the API and by the staff console. Every action is audited in the same transaction.
/// </summary>
public static class ReviewItems
{
    const int Limit = 500;

    sealed record SmsRow(Guid Id, string Status, string? Error, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
        string Purpose, Guid? LeadId, Guid? FollowupId);

    sealed record JobRow(long Id, string Kind, string Status, string? Error, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    /// <summary>Oldest first: the longest-waiting decision comes first.</summary>
    public static async Task<IReadOnlyList<ReviewItem>> ListAsync(DbSession s, Guid clinicId, CancellationToken ct)
    {
        var messages = await s.QueryAsync<SmsRow>("""
            select m.id, m.status, m.error_message, m.attempts, m.created_at, m.updated_at, m.purpose, f.lead_id, m.followup_id
            from sms_messages m
            left join lead_followups f on f.clinic_id = m.clinic_id and f.id = m.followup_id
            where m.clinic_id = @ClinicId and m.reviewed_at is null and m.status in ('review', 'failed', 'undelivered')
            order by m.updated_at
            limit @Limit
            """, new { ClinicId = clinicId, Limit }, ct);
        var jobs = await s.QueryAsync<JobRow>("""
            select id, kind, status, last_error, attempts, created_at, updated_at
            from outbox
            where clinic_id = @ClinicId and kind <> @Sms and status in ('review', 'failed')
            order by updated_at
            limit @Limit
            """, new { ClinicId = clinicId, Sms = SmsSender.JobKind, Limit }, ct);
        return messages.Select(m => new ReviewItem(m.Id.ToString(), "sms", m.Status, m.Error, m.Attempts, m.CreatedAt, m.UpdatedAt,
                m.Purpose, m.LeadId, m.FollowupId, ReviewActions.All))
            .Concat(jobs.Select(j => new ReviewItem("job-" + j.Id, j.Kind, j.Status, j.Error, j.Attempts, j.CreatedAt, j.UpdatedAt,
                null, null, null, ReviewActions.All)))
            .OrderBy(i => i.UpdatedAt)
            .ToList();
    }

    /// <summary>Applies <paramref name="action"/> in the caller's session (commit is the caller's).
    /// Call <see cref="Outbox.Signal"/> after commit when a resend was queued.</summary>
    public static async Task<ReviewOutcome> ApplyAsync(DbSession s, Vault vault, Guid clinicId, string id, string action, CancellationToken ct)
    {
        if (Guid.TryParse(id, out var messageId)) return await ApplyToMessageAsync(s, vault, clinicId, messageId, action, ct);
        if (id.StartsWith("job-", StringComparison.Ordinal) && long.TryParse(id.AsSpan(4), out var jobId))
            return await ApplyToJobAsync(s, clinicId, jobId, action, ct);
        return new ReviewOutcome.NotFound();
    }

    sealed record MessageState(string Status, Guid? FollowupId, bool OptedOut, string? ReviewedBy, byte[]? ToHash, string Purpose);

    static async Task<ReviewOutcome> ApplyToMessageAsync(DbSession s, Vault vault, Guid clinicId, Guid id, string action, CancellationToken ct)
    {
        // Locked: two people acting on the same item at once get one answer each, in turn.
        var state = await s.QuerySingleOrDefaultAsync<MessageState>("""
            select m.status, m.followup_id,
                   exists (select 1 from sms_opt_outs o where o.clinic_id = m.clinic_id and (o.phone_hash = m.to_hash or o.phone = m.to_phone)),
                   m.reviewed_by, m.to_hash, m.purpose
            from sms_messages m where m.clinic_id = @ClinicId and m.id = @Id
            for update
            """, new { ClinicId = clinicId, Id = id }, ct);
        if (state is null) return new ReviewOutcome.NotFound();
        if (state.ReviewedBy is not null || state.Status is not ("review" or "failed" or "undelivered"))
            return new ReviewOutcome.Conflict($"The message is '{state.Status}'{(state.ReviewedBy is null ? "" : ", already decided")}: nothing to review.");

        Guid? newMessage = null;
        string status;
        switch (action)
        {
            case ReviewActions.Resend:
                if (state.OptedOut) return new ReviewOutcome.Conflict("The recipient opted out of messages from this clinic.");
                // A new message row: the old one keeps what happened to it; the new one gets a fresh window.
                // Its content is sealed again: the ciphertext's associated data names the row.
                if (await SmsContent.OpenAsync(s, vault, id, ct) is not { } content || state.ToHash is null)
                    return new ReviewOutcome.Conflict("The message's recipient was erased or its content purged: it cannot be sent again.");
                newMessage = await SmsContent.InsertAsync(s, vault, clinicId, state.FollowupId, state.ToHash, content, state.Purpose, ct);
                await Outbox.EnqueueAsync(s, clinicId, SmsSender.JobKind, new SmsJob(newMessage.Value), null, ct);
                status = state.Status;
                await CloseMessageAsync(s, clinicId, id, status, "done", ct);
                await s.ExecuteAsync("update lead_followups set status = 'queued' where clinic_id = @ClinicId and id = @FollowupId",
                    new { ClinicId = clinicId, state.FollowupId }, ct);
                break;
            case ReviewActions.MarkSent:
                status = "sent";
                await CloseMessageAsync(s, clinicId, id, status, "done", ct);
                break;
            case ReviewActions.Cancel:
                status = state.Status == "review" ? "cancelled" : state.Status;
                await CloseMessageAsync(s, clinicId, id, status, "cancelled", ct);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(action), action, "unknown review action");
        }
        await AuditLog.WriteAsync(s, clinicId, "review_" + action, "sms_message", id.ToString(),
            new { previousStatus = state.Status, status, newMessageId = newMessage }, ct);
        return new ReviewOutcome.Applied(id.ToString(), action, status, newMessage);
    }

    static async Task CloseMessageAsync(DbSession s, Guid clinicId, Guid id, string status, string jobStatus, CancellationToken ct)
    {
        await s.ExecuteAsync($"""
            with m as (
              update sms_messages set status = @Status, reviewed_at = now(), reviewed_by = @Actor, updated_at = now()
              where clinic_id = @ClinicId and id = @Id
              returning followup_id, clinic_id, status, twilio_sid
            )
            update lead_followups f set status = {SmsStatus.FollowUpStatusSql("m.status", "m.twilio_sid")}
            from m where f.clinic_id = m.clinic_id and f.id = m.followup_id
            """, new { ClinicId = clinicId, Id = id, Status = status, Actor = Actor(s) }, ct);
        await s.ExecuteAsync("""
            update outbox set status = @JobStatus, locked_until = null, updated_at = now()
            where clinic_id = @ClinicId and kind = @Kind and payload->>'MessageId' = @Id and status in ('pending', 'review', 'failed')
            """, new { ClinicId = clinicId, Kind = SmsSender.JobKind, Id = id.ToString(), JobStatus = jobStatus }, ct);
    }

    static async Task<ReviewOutcome> ApplyToJobAsync(DbSession s, Guid clinicId, long id, string action, CancellationToken ct)
    {
        var previous = await s.QuerySingleOrDefaultAsync<string>(
            "select status from outbox where clinic_id = @ClinicId and id = @Id and kind <> @Sms for update",
            new { ClinicId = clinicId, Id = id, Sms = SmsSender.JobKind }, ct);
        if (previous is null) return new ReviewOutcome.NotFound();
        if (previous is not ("review" or "failed")) return new ReviewOutcome.Conflict($"The job is '{previous}': nothing to review.");
        var status = action switch
        {
            ReviewActions.Resend => "pending",
            ReviewActions.MarkSent => "done",
            ReviewActions.Cancel => "cancelled",
            _ => throw new ArgumentOutOfRangeException(nameof(action), action, "unknown review action"),
        };
        // A resent job starts a fresh window: due now, no attempts yet.
        await s.ExecuteAsync("""
            update outbox set status = @Status, attempts = case when @Status = 'pending' then 0 else attempts end,
                   next_attempt_at = now(), due_at = case when @Status = 'pending' then now() else due_at end,
                   locked_until = null, updated_at = now()
            where clinic_id = @ClinicId and id = @Id
            """, new { ClinicId = clinicId, Id = id, Status = status }, ct);
        await AuditLog.WriteAsync(s, clinicId, "review_" + action, "outbox_job", id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            new { previousStatus = previous, status }, ct);
        return new ReviewOutcome.Applied("job-" + id, action, status, null);
    }

    static string Actor(DbSession s) => s.Claims.Actor is { Length: > 200 } a ? a[..200] : s.Claims.Actor;
}
