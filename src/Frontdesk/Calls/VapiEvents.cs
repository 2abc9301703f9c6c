using System.Text.Json;
using Frontdesk.Privacy;

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

    /// <summary>Keeps what the product needs about the call in columns (status, outcome, times, cost)
    /// and seals the personal part of an end-of-call report (<see cref="CallContent"/>) under the
    /// caller's data key; the report itself is not kept. Outcomes come from the report's top level —
    /// its nested call is a snapshot from the start.</summary>
    public static async Task RecordCallAsync(Db db, Vault vault, RequestClaims claims, VapiClinic clinic, string callId, string type,
        JsonElement message, CancellationToken ct)
    {
        var isReport = type == "end-of-call-report";
        var number = Phone.ToE164(VapiMessage.CustomerNumber(message), Phone.RegionForTimezone(clinic.Timezone));
        await using var s = await db.BeginAsync(claims, ct);
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
            Cost = isReport && message.Get("cost") is { ValueKind: JsonValueKind.Number } c ? c.GetDecimal() : (decimal?)null,
            Duration = isReport && message.Get("durationSeconds") is { ValueKind: JsonValueKind.Number } d ? d.GetDecimal() : (decimal?)null,
            Content = content,
        }, ct);
        await s.CommitAsync(ct);
    }
}
