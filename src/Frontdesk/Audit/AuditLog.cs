using System.Text.Json;

namespace Frontdesk.Audit;

/// <summary>One audit row; <see cref="Seq"/> is null until the sealer links the row into the chain
/// (shortly after commit).</summary>
public sealed record AuditEntry(long? Seq, DateTimeOffset At, string Actor, string Action, string? Entity, string? EntityId, JsonElement Detail);

/// <summary>Writes and reads the tamper-evident audit trail. Rows are sealed into the hash chain after
/// commit by <see cref="AuditSealer"/>, so writing one never waits for the rest of the clinic.</summary>
public static class AuditLog
{
    const string InsertSql = """
        insert into audit_trail (clinic_id, actor, action, entity, entity_id, detail)
        values (@ClinicId, @Actor, @Action, @Entity, @EntityId, @Detail::jsonb)
        """;

    /// <summary>Appends a row in the session's transaction, so it commits or rolls back with the change it records.</summary>
    public static Task WriteAsync(DbSession session, Guid clinicId, string action, string? entity, string? entityId,
        object? detail, CancellationToken ct, string? actor = null) =>
        session.ExecuteAsync(InsertSql, new
        {
            ClinicId = clinicId,
            Actor = actor ?? session.Claims.Actor,
            Action = action,
            Entity = entity,
            EntityId = entityId,
            Detail = JsonSerializer.Serialize(detail ?? new { }),
        }, ct);

    /// <summary>Appends a row on its own, in one round trip (claims, role and insert in one batch, one
    /// implicit transaction): for rows that record a refusal, where nothing else is written.</summary>
    public static Task WriteOnceAsync(Db db, RequestClaims claims, Guid clinicId, string action, string? entity, string? entityId,
        object? detail, CancellationToken ct) =>
        db.QueryOnceAsync<int>(claims, InsertSql + " returning 1", new
        {
            ClinicId = clinicId,
            Actor = claims.Actor,
            Action = action,
            Entity = entity,
            EntityId = entityId,
            Detail = JsonSerializer.Serialize(detail ?? new { }),
        }, ct);

    public static Task<IReadOnlyList<AuditEntry>> ReadAsync(DbSession session, Guid clinicId, int limit, long? beforeSeq, CancellationToken ct) =>
        session.QueryAsync<AuditEntry>("""
            select seq, at, actor, action, entity, entity_id, detail
            from audit_trail
            where clinic_id = @ClinicId and (@Before::bigint is null or seq < @Before)
            order by seq desc nulls first, id desc
            limit @Limit
            """, new { ClinicId = clinicId, Before = beforeSeq, Limit = limit }, ct);
}
