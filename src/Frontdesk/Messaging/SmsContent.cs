using Frontdesk.Privacy;

namespace Frontdesk.Messaging;

/// <summary>
/// An SMS's recipient and text, sealed in <c>sms_messages.content</c> under the recipient's caller
/// key (<c>sms_messages.to_hash</c>). The sender opens it just before the request to Twilio; erasing
/// the recipient destroys the key, retention purges the content.
/// </summary>
public sealed record SmsContent(string To, string Body)
{
    public const string Table = "sms_messages";

    sealed record Row(Guid ClinicId, byte[]? ToHash, byte[]? Content, string? LegacyTo, string? LegacyBody);

    /// <summary>Queues a message row (the caller adds its outbox job in the same transaction).</summary>
    /// <param name="status">'queued', or 'failed' for a message the SMS guard refused (kept so a person sees it; never enqueued).</param>
    /// <param name="purpose">An <see cref="SmsPurpose"/>: decides the usefulness window and whether quiet hours apply at send time.</param>
    public static async Task<Guid> InsertAsync(DbSession s, Vault vault, Guid clinicId, Guid? followupId, byte[] toHash, SmsContent sms,
        string purpose, CancellationToken ct, string status = "queued", string? error = null)
    {
        var id = Guid.NewGuid();
        var (segments, encoding) = SmsText.Count(sms.Body);
        await s.ExecuteAsync("""
            insert into sms_messages (id, clinic_id, followup_id, to_hash, content, segments, encoding, purpose, status, error_message)
            values (@Id, @ClinicId, @FollowupId, @Hash, @Content, @Segments, @Encoding, @Purpose, @Status, @Error)
            """, new
        {
            Id = id, ClinicId = clinicId, FollowupId = followupId, Hash = toHash,
            Content = await vault.SealForCallerAsync(s, clinicId, toHash, Table, id.ToString(), sms, ct),
            Segments = segments, Encoding = encoding, Purpose = purpose, Status = status, Error = error,
        }, ct);
        return id;
    }

    /// <summary>Queues one message from a worker or webhook: the SMS guard's check, the sealed row (kept as
    /// <c>failed</c> with the reason when refused, so a person sees it), and its outbox job unless refused — in
    /// the caller's transaction (signal the outbox after commit). API callers answer a refusal instead.</summary>
    public static async Task<(Guid MessageId, SmsVerdict.Refused? Refused)> QueueAsync(DbSession s, Vault vault, SmsGuard guard, Guid clinicId,
        byte[] toHash, SmsContent sms, string purpose, DateTimeOffset? notBefore, CancellationToken ct)
    {
        var refused = await guard.CheckAsync(s, clinicId, sms.To, ct) as SmsVerdict.Refused;
        var messageId = await InsertAsync(s, vault, clinicId, null, toHash, sms, purpose, ct,
            status: refused is null ? "queued" : "failed", error: refused is null ? null : "refused: " + refused.Detail);
        if (refused is null) await Outbox.EnqueueAsync(s, clinicId, SmsSender.JobKind, new SmsJob(messageId), notBefore, ct);
        return (messageId, refused);
    }

    /// <summary>The recipient and text of one message for the sender (a worker: every clinic), or null
    /// when they are gone (the recipient was erased or the content purged).</summary>
    public static async Task<SmsContent?> OpenAsync(Db db, Vault vault, Guid messageId, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(RequestClaims.AsSystem(SystemPath.Worker), ct);
        return await OpenAsync(s, vault, messageId, ct);
    }

    public static async Task<SmsContent?> OpenAsync(DbSession s, Vault vault, Guid messageId, CancellationToken ct)
    {
        var row = await s.QuerySingleOrDefaultAsync<Row>(
            "select clinic_id, to_hash, content, to_phone, body from sms_messages where id = @Id", new { Id = messageId }, ct);
        if (row is null) return null;
        // A message queued before the content was sealed, not yet reached by the backfill.
        if (row.Content is null) return row is { LegacyTo: { } to, LegacyBody: { } body } ? new SmsContent(to, body) : null;
        return await vault.OpenForCallerAsync<SmsContent>(s, row.ClinicId, row.ToHash, Table, messageId.ToString(), row.Content, ct);
    }
}

/// <summary>Opt-outs by number hash (plus rows from before hashing, until the backfill reaches them).</summary>
public static class SmsOptOuts
{
    /// <summary>Parameters: ClinicId, Hash, Phone (the E.164 number, for rows not yet backfilled).</summary>
    public const string ExistsSql =
        "select exists (select 1 from sms_opt_outs where clinic_id = @ClinicId and (phone_hash = @Hash or phone = @Phone))";

    /// <summary>Parameters: ClinicId, Hash, Source.</summary>
    public const string AddSql = """
        insert into sms_opt_outs (clinic_id, phone_hash, source) values (@ClinicId, @Hash, @Source)
        on conflict (clinic_id, phone_hash) do nothing
        """;

    /// <summary>Parameters: ClinicId, Hash, Phone.</summary>
    public const string RemoveSql = "delete from sms_opt_outs where clinic_id = @ClinicId and (phone_hash = @Hash or phone = @Phone)";

    /// <summary>Whether a message's recipient opted out. Parameters: Id (the message), Phone (its recipient).</summary>
    public const string ExistsForMessageSql = """
        select exists (select 1 from sms_messages m join sms_opt_outs o on o.clinic_id = m.clinic_id
                       where m.id = @Id and (o.phone_hash = m.to_hash or o.phone = @Phone))
        """;

    /// <summary>Records an opt-out for a message's recipient (Twilio 21610), as a worker.</summary>
    public static Task AddForMessageAsync(Db db, Vault vault, Guid messageId, string phone, string source, CancellationToken ct) =>
        db.InTransactionAsync(RequestClaims.AsSystem(SystemPath.Worker), async s =>
        {
            var clinicId = await s.QuerySingleOrDefaultAsync<Guid?>("select clinic_id from sms_messages where id = @Id", new { Id = messageId }, ct);
            if (clinicId is not { } c) return 0;
            var hash = await vault.CallerHashAsync(s, c, CallerSubject.Phone(phone), ct);
            return await s.ExecuteAsync(AddSql, new { ClinicId = c, Hash = hash, Source = source }, ct);
        }, ct);
}
