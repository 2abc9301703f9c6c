using System.Text.Json;

namespace Frontdesk.Calls;

/// <summary>The first answer to a (call, type, discriminator), or the right to produce it.</summary>
public sealed record EventClaim(long? Id, string? StoredResponse)
{
    public bool Fresh => Id is not null;
}

sealed record ClaimRow(long Id, string? Response, bool Claimed);

/// <summary>
/// Idempotent intake of Vapi messages through unique keys in PostgreSQL (not memory): the first
/// delivery claims the row and stores its answer; a repeat gets that answer. A claim that never
/// got an answer (the instance died) may be taken over after a lease, so a retried end-of-call
/// report is processed rather than lost — the follow-up's own unique key keeps it to one SMS.
/// </summary>
public static class VapiEvents
{
    static readonly TimeSpan Lease = TimeSpan.FromSeconds(60);

    public static async Task<EventClaim> ClaimAsync(Db db, RequestClaims claims, Guid clinicId, string callId, string type,
        string discriminator, DateTimeOffset? eventAt, CancellationToken ct)
    {
        // One round trip: insert, or take over an abandoned claim, or report the stored answer.
        var rows = await db.QueryOnceAsync<ClaimRow>(claims, """
            with ins as (
              insert into vapi_events (clinic_id, call_id, type, discriminator, event_at)
              values (@ClinicId, @CallId, @Type, @Disc, @EventAt)
              on conflict (clinic_id, call_id, type, discriminator) do update set claimed_at = now()
                where vapi_events.response is null and vapi_events.claimed_at < now() - @Lease
              returning id, response::text, true
            )
            select * from ins
            union all
            select id, response::text, false from vapi_events
            where clinic_id = @ClinicId and call_id = @CallId and type = @Type and discriminator = @Disc
              and not exists (select 1 from ins)
            """, new { ClinicId = clinicId, CallId = callId, Type = type, Disc = discriminator, EventAt = eventAt, Lease }, ct);
        return rows switch
        {
            [{ Claimed: true } r] => new EventClaim(r.Id, null),
            [var r] => new EventClaim(null, r.Response),
            // The conflicting row is not visible yet (its insert has not committed): someone else has it.
            _ => new EventClaim(null, null),
        };
    }

    public static Task CompleteAsync(Db db, RequestClaims claims, long id, string response, CancellationToken ct) =>
        db.QueryOnceAsync<int>(claims, "update vapi_events set response = @Response::jsonb where id = @Id returning 1",
            new { Id = id, Response = response }, ct);

    /// <summary>Gives the claim back after a failure so a retry processes the message.</summary>
    public static Task ReleaseAsync(Db db, RequestClaims claims, long id) =>
        db.QueryOnceAsync<int>(claims, "delete from vapi_events where id = @Id and response is null returning 1",
            new { Id = id }, CancellationToken.None);

    /// <summary>Waits briefly for a concurrent first delivery to finish, so a duplicate gets its answer.</summary>
    public static async Task<string?> AwaitResponseAsync(Db db, RequestClaims claims, Guid clinicId, string callId, string type,
        string discriminator, CancellationToken ct)
    {
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(100, ct);
            var rows = await db.QueryOnceAsync<string?>(claims, """
                select response::text from vapi_events
                where clinic_id = @ClinicId and call_id = @CallId and type = @Type and discriminator = @Disc
                """, new { ClinicId = clinicId, CallId = callId, Type = type, Disc = discriminator }, ct);
            if (rows is [{ } r]) return r;
        }
        return null;
    }

    /// <summary>Keeps what is useful about the call: its status, and the whole end-of-call report.
    /// Outcomes come from the report's top level — its nested call is a snapshot from the start.</summary>
    public static Task RecordCallAsync(Db db, RequestClaims claims, Guid clinicId, string callId, string type, JsonElement message,
        string rawMessage, CancellationToken ct)
    {
        var isReport = type == "end-of-call-report";
        var number = VapiMessage.CustomerNumber(message);
        return db.QueryOnceAsync<int>(claims, """
            insert into calls (clinic_id, call_id, customer_number, status, ended_reason, started_at, ended_at, cost, summary,
                               structured_data, success_evaluation, report)
            values (@ClinicId, @CallId, @Number, @Status, @EndedReason, @StartedAt, @EndedAt, @Cost::numeric, @Summary,
                    @Structured::jsonb, @Success, @Report::jsonb)
            on conflict (clinic_id, call_id) do update set
              customer_number = coalesce(excluded.customer_number, calls.customer_number),
              status = case when calls.status = 'ended' then calls.status else coalesce(excluded.status, calls.status) end,
              ended_reason = coalesce(excluded.ended_reason, calls.ended_reason),
              started_at = coalesce(excluded.started_at, calls.started_at),
              ended_at = coalesce(excluded.ended_at, calls.ended_at),
              cost = coalesce(excluded.cost, calls.cost),
              summary = coalesce(excluded.summary, calls.summary),
              structured_data = coalesce(excluded.structured_data, calls.structured_data),
              success_evaluation = coalesce(excluded.success_evaluation, calls.success_evaluation),
              report = coalesce(excluded.report, calls.report),
              updated_at = now()
            returning 1
            """, new
        {
            ClinicId = clinicId,
            CallId = callId,
            Number = Phone.ToE164(number) ?? (number is { Length: <= 40 } ? number : null),
            Status = isReport ? "ended" : message.Str("status"),
            EndedReason = message.Str("endedReason"),
            StartedAt = isReport ? VapiMessage.Time(message.Get("startedAt")) : null,
            EndedAt = isReport ? VapiMessage.Time(message.Get("endedAt")) : null,
            Cost = isReport && message.Get("cost") is { ValueKind: JsonValueKind.Number } c ? c.TryGetDecimal(out var cost) ? cost : (decimal?)null : null,
            Summary = message.Str("analysis", "summary") ?? message.Str("summary"),
            Structured = message.Get("analysis", "structuredData") is { ValueKind: JsonValueKind.Object } sd ? sd.GetRawText() : null,
            Success = message.Str("analysis", "successEvaluation"),
            Report = isReport ? rawMessage : null,
        }, ct);
    }
}
