using System.Text.Json;

namespace Frontdesk.Calls;

/// <summary>How a claim on a Vapi message turned out.</summary>
public abstract record EventClaim
{
    /// <summary>This delivery holds the claim in <paramref name="Session"/>'s transaction: do the work
    /// there, <see cref="VapiEvents.CompleteAsync"/> and commit — or dispose, and the claim is gone too.</summary>
    public sealed record Fresh(long Id, DbSession Session) : EventClaim;

    /// <summary>An earlier delivery committed this answer.</summary>
    public sealed record Answered(string Response) : EventClaim;

    /// <summary>An earlier delivery still holds the claim (its transaction is open): answer "retry later".</summary>
    public sealed record Busy : EventClaim;
}

/// <summary>A locked claim row: its id and stored answer (null: nobody answered yet), or busy.</summary>
public sealed record ClaimRow(long? Id, string? Response, bool Busy);

/// <summary>
/// Idempotent intake of Vapi messages through unique keys in PostgreSQL (not memory). The claim
/// row is inserted — or locked — by the transaction that processes the message and commits with
/// its effects and its answer (SQL <c>vapi_claim</c>), so a crash mid-event rolls the claim back
/// and Vapi's retry (or reconciliation) processes it; a concurrent duplicate waits for the first
/// delivery's transaction, then reads its answer, and after a bounded wait is told to retry.
/// </summary>
public static class VapiEvents
{
    /// <summary>Inserts or locks the row of (call, type, discriminator) in <paramref name="s"/>'s
    /// transaction, waiting at most <paramref name="wait"/> for a transaction that holds it.</summary>
    public static async Task<ClaimRow> LockAsync(DbSession s, Guid clinicId, string callId, string type, string discriminator,
        DateTimeOffset? eventAt, TimeSpan wait, CancellationToken ct) =>
        (await s.QueryAsync<ClaimRow>("select id, response, busy from public.vapi_claim(@ClinicId, @CallId, @Type, @Disc, @EventAt, @WaitMs)",
            new { ClinicId = clinicId, CallId = callId, Type = type, Disc = discriminator, EventAt = eventAt, WaitMs = (int)Math.Ceiling(wait.TotalMilliseconds) }, ct))[0];

    /// <summary>Claims a message in a new transaction of <paramref name="claims"/>.</summary>
    public static async Task<EventClaim> ClaimAsync(Db db, RequestClaims claims, Guid clinicId, string callId, string type,
        string discriminator, DateTimeOffset? eventAt, TimeSpan wait, CancellationToken ct)
    {
        var s = await db.BeginAsync(claims, ct);
        try
        {
            var row = await LockAsync(s, clinicId, callId, type, discriminator, eventAt, wait, ct);
            if (row is { Busy: false, Id: { } id, Response: null }) return new EventClaim.Fresh(id, s);
            await s.DisposeAsync();
            return row.Response is { } answer ? new EventClaim.Answered(answer) : new EventClaim.Busy();
        }
        catch
        {
            await s.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stores the answer in the claim's transaction; it is visible once that commits.</summary>
    public static Task<int> CompleteAsync(DbSession s, long id, string response, CancellationToken ct) =>
        s.ExecuteAsync("update vapi_events set response = @Response::jsonb, claimed_at = now() where id = @Id",
            new { Id = id, Response = response }, ct);

    /// <summary>Keeps what is useful about the call: its status, and the whole end-of-call report.
    /// Outcomes come from the report's top level — its nested call is a snapshot from the start.</summary>
    public static Task<int> RecordCallAsync(DbSession s, Guid clinicId, string callId, string type, JsonElement message,
        string rawMessage, CancellationToken ct)
    {
        var isReport = type == "end-of-call-report";
        var number = VapiMessage.CustomerNumber(message);
        return s.ExecuteAsync("""
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
            """, new
        {
            ClinicId = clinicId,
            CallId = callId,
            Number = Phone.ToE164(number) ?? (number is { Length: <= 40 } ? number : null),
            Status = isReport ? "ended" : message.Str("status"),
            EndedReason = message.Str("endedReason"),
            StartedAt = isReport ? VapiMessage.Time(message.Get("startedAt")) : null,
            EndedAt = isReport ? VapiMessage.Time(message.Get("endedAt")) : null,
            Cost = isReport && message.Get("cost") is { ValueKind: JsonValueKind.Number } c ? c.GetDecimal() : (decimal?)null,
            Summary = message.Str("analysis", "summary") ?? message.Str("summary"),
            Structured = message.Get("analysis", "structuredData") is { ValueKind: JsonValueKind.Object } sd ? sd.GetRawText() : null,
            Success = message.Str("analysis", "successEvaluation"),
            Report = isReport ? rawMessage : null,
        }, ct);
    }
}
