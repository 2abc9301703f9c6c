using Frontdesk.Audit;
using Frontdesk.Privacy;

namespace Frontdesk.Inbox;

/// <summary>The booking an inbox message is about, as staff see it.</summary>
public sealed record InboxBooking(Guid Id, DateTimeOffset StartsAt, string Status, Guid? PatientId, string? PatientName, string Practitioner);

/// <summary>One SMS a patient sent that needs a person. <see cref="From"/> and <see cref="Text"/> are null once
/// retention purged them (<see cref="ContentPurgedAt"/>); <see cref="Booking"/> is the sender's booking when
/// one was upcoming.</summary>
public sealed record InboxItem(Guid Id, DateTimeOffset ReceivedAt, string? From, string? Text, string Status, InboxBooking? Booking,
    DateTimeOffset? HandledAt, string? HandledBy, DateTimeOffset? ContentPurgedAt);

public static class InboxStatus
{
    public const string Open = "open", Handled = "handled", All = "all";
}

/// <summary>
/// The staff inbox: SMS replies that are not reply words (Inbox/InboundReplies.cs). Runs in the caller's
/// tenant session, so RLS scopes it; used by the API and by the staff console:
/// <code>
/// await using var s = await db.BeginAsync(claims, ct);
/// var open = await InboxItems.ListAsync(s, vault, clinicId, InboxStatus.Open, 100, ct);     // oldest first
/// var done = await InboxItems.SetStatusAsync(s, vault, clinicId, itemId, InboxStatus.Handled, ct);  // audited; then commit
/// </code>
/// </summary>
public static class InboxItems
{
    public const int MaxLimit = 500;

    sealed record Row(Guid Id, DateTimeOffset ReceivedAt, byte[] FromHash, byte[]? Content, string Status, Guid? BookingId,
        DateTimeOffset? StartsAt, string? BookingStatus, Guid? PatientId, string? PatientName, string? Practitioner,
        DateTimeOffset? HandledAt, string? HandledBy, DateTimeOffset? ContentPurgedAt);

    const string Select = """
        select r.id, r.received_at, r.from_hash, r.content, r.status, r.booking_id,
               b.starts_at, b.status, b.patient_id, p.name, pr.name,
               r.handled_at, r.handled_by, r.content_purged_at
        from sms_replies r
        left join bookings b on b.clinic_id = r.clinic_id and b.id = r.booking_id
        left join patients p on p.clinic_id = b.clinic_id and p.id = b.patient_id
        left join practitioners pr on pr.clinic_id = b.clinic_id and pr.id = b.practitioner_id
        where r.clinic_id = @ClinicId and r.kind = 'message'
        """;

    /// <summary>Open items oldest first (the longest waiting comes first); handled or all, newest first.</summary>
    public static async Task<IReadOnlyList<InboxItem>> ListAsync(DbSession s, Vault vault, Guid clinicId, string status, int limit, CancellationToken ct)
    {
        var rows = await s.QueryAsync<Row>(Select + """

              and (@Status = 'all' or r.status = @Status)
            order by case when @Status = 'open' then r.received_at end, r.received_at desc
            limit @Limit
            """, new { ClinicId = clinicId, Status = status, Limit = Math.Clamp(limit, 1, MaxLimit) }, ct);
        return await OpenAsync(s, vault, clinicId, rows, ct);
    }

    /// <summary>The inbox items one number sent (by its keyed hash), newest first: a patient's page in the console.</summary>
    public static async Task<IReadOnlyList<InboxItem>> FromSenderAsync(DbSession s, Vault vault, Guid clinicId, byte[] fromHash, int limit, CancellationToken ct)
    {
        var rows = await s.QueryAsync<Row>(Select + """

              and r.from_hash = @Hash
            order by r.received_at desc
            limit @Limit
            """, new { ClinicId = clinicId, Hash = fromHash, Limit = Math.Clamp(limit, 1, MaxLimit) }, ct);
        return await OpenAsync(s, vault, clinicId, rows, ct);
    }

    public static async Task<InboxItem?> FindAsync(DbSession s, Vault vault, Guid clinicId, Guid id, CancellationToken ct)
    {
        var rows = await s.QueryAsync<Row>(Select + " and r.id = @Id", new { ClinicId = clinicId, Id = id }, ct);
        return rows.Count == 0 ? null : (await OpenAsync(s, vault, clinicId, rows, ct))[0];
    }

    /// <summary>Marks an item handled (by the caller) or open again, audited; null when there is no such item.</summary>
    public static async Task<InboxItem?> SetStatusAsync(DbSession s, Vault vault, Guid clinicId, Guid id, string status, CancellationToken ct)
    {
        if (status is not (InboxStatus.Open or InboxStatus.Handled)) throw new ArgumentOutOfRangeException(nameof(status));
        var previous = await s.QuerySingleOrDefaultAsync<string>("""
            update sms_replies r set status = @Status,
                   handled_at = case when @Status = 'handled' then coalesce(r.handled_at, now()) end,
                   handled_by = case when @Status = 'handled' then coalesce(r.handled_by, @Actor) end
            from sms_replies old
            where r.clinic_id = @ClinicId and r.id = @Id and r.kind = 'message'
              and old.clinic_id = r.clinic_id and old.id = r.id
            returning old.status
            """, new { ClinicId = clinicId, Id = id, Status = status, Actor = s.Claims.Actor }, ct);
        if (previous is null) return null;
        if (previous != status)
            await AuditLog.WriteAsync(s, clinicId, status == InboxStatus.Handled ? "inbox_handled" : "inbox_reopened", "sms_reply", id.ToString(), null, ct);
        return await FindAsync(s, vault, clinicId, id, ct);
    }

    static async Task<IReadOnlyList<InboxItem>> OpenAsync(DbSession s, Vault vault, Guid clinicId, IReadOnlyList<Row> rows, CancellationToken ct)
    {
        var openers = new Dictionary<string, CallerDecryptor?>(StringComparer.Ordinal);
        var items = new List<InboxItem>(rows.Count);
        foreach (var r in rows)
        {
            InboundText? text = null;
            if (r.Content is not null)
            {
                var key = Convert.ToHexString(r.FromHash);
                if (!openers.TryGetValue(key, out var open)) openers[key] = open = await vault.OpenForCallerAsync(s, clinicId, r.FromHash, ct);
                text = open is null ? null : Vault.TryOpen<InboundText>(open, InboundReplies.Table, r.Id.ToString(), r.Content);
            }
            var booking = r is { BookingId: { } b, StartsAt: { } at } ? new InboxBooking(b, at, r.BookingStatus!, r.PatientId, r.PatientName, r.Practitioner!) : null;
            items.Add(new InboxItem(r.Id, r.ReceivedAt, text?.From, text?.Text, r.Status, booking, r.HandledAt, r.HandledBy, r.ContentPurgedAt));
        }
        return items;
    }
}
