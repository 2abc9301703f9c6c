using System.Text.Json;
using Frontdesk.Privacy;

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

    /// <summary>Keeps what the product needs about the call in columns (status, outcome, times, cost)
    /// and seals the personal part of an end-of-call report (<see cref="CallContent"/>) under the
    /// caller's data key; the report itself is not kept. Outcomes come from the report's top level —
    /// its nested call is a snapshot from the start. Runs in the message's claim transaction
    /// (<see cref="VapiIntake"/>): it commits with the claim.</summary>
    public static async Task RecordCallAsync(DbSession s, Vault vault, VapiClinic clinic, string callId, string type,
        JsonElement message, CancellationToken ct)
    {
        var isReport = type == "end-of-call-report";
        var number = Phone.ToE164(VapiMessage.CustomerNumber(message), Phone.RegionForTimezone(clinic.Timezone));
        byte[]? hash = null, content = null;
        if (isReport)
        {
            // A call without a usable number still gets a key of its own, so its content is sealed too
            // (retention purges it; nothing links it to a person but what it says).
            hash = await vault.CallerHashAsync(s, clinic.Id, number is null ? CallerSubject.Call(callId) : CallerSubject.Phone(number), ct);
            var personal = CallContent.From(message);
            if (!personal.IsEmpty) content = await vault.SealForCallerAsync(s, clinic.Id, hash, CallContent.Table, callId, personal, ct);
        }
        else if (number is not null)
        {
            hash = await vault.CallerHashAsync(s, clinic.Id, CallerSubject.Phone(number), ct);
        }
        await s.ExecuteAsync("""
            insert into calls (clinic_id, call_id, caller_hash, status, ended_reason, started_at, ended_at, cost, duration_seconds, content)
            values (@ClinicId, @CallId, @Hash, @Status, @EndedReason, @StartedAt, @EndedAt, @Cost::numeric, @Duration::numeric, @Content)
            on conflict (clinic_id, call_id) do update set
              -- The content and the hash that names its key go together.
              caller_hash = case when excluded.content is not null then excluded.caller_hash else coalesce(calls.caller_hash, excluded.caller_hash) end,
              content = coalesce(excluded.content, calls.content),
              status = case when calls.status = 'ended' then calls.status else coalesce(excluded.status, calls.status) end,
              ended_reason = coalesce(excluded.ended_reason, calls.ended_reason),
              started_at = coalesce(excluded.started_at, calls.started_at),
              ended_at = coalesce(excluded.ended_at, calls.ended_at),
              cost = coalesce(excluded.cost, calls.cost),
              duration_seconds = coalesce(excluded.duration_seconds, calls.duration_seconds),
              updated_at = now()
            """, new
        {
            ClinicId = clinic.Id,
            CallId = callId,
            Hash = hash,
            Status = isReport ? "ended" : message.Str("status"),
            EndedReason = message.Str("endedReason"),
            StartedAt = isReport ? VapiMessage.Time(message.Get("startedAt")) : null,
            EndedAt = isReport ? VapiMessage.Time(message.Get("endedAt")) : null,
            Cost = isReport && message.Get("cost") is { ValueKind: JsonValueKind.Number } c ? c.TryGetDecimal(out var cost) ? cost : (decimal?)null : null,
            Duration = isReport && message.Get("durationSeconds") is { ValueKind: JsonValueKind.Number } d ? d.TryGetDecimal(out var duration) ? duration : (decimal?)null : null,
            Content = content,
        }, ct);
    }
}
