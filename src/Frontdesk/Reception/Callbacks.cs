using Frontdesk.Audit;
using Frontdesk.Privacy;
using Frontdesk.Privacy.Detection;

namespace Frontdesk.Reception;

/// <summary>A callback's personal part, sealed in <c>callbacks.content</c> under the caller's data key:
/// the number to ring, the reason as the caller gave it, and the time they asked for.</summary>
public sealed record CallbackContent(string Phone, string Reason, string? PreferredTime)
{
    public const string Table = "callbacks";
}

/// <summary>One callback as staff see it (API.md "Reception"): <see cref="Phone"/>, <see cref="PreferredTime"/>
/// and <see cref="Note"/> decrypted; <see cref="Reason"/> with detected personal values replaced by placeholders.</summary>
public sealed record CallbackView(Guid Id, string? CallId, string? Phone, string Reason, string Priority, string Status, DateTimeOffset CreatedAt,
    string Source, string? PreferredTime, string? Note, int Attempts, DateTimeOffset UpdatedAt, DateTimeOffset? HandledAt);

/// <summary>What a caller asked for, or what happened to them, that a person must follow up.</summary>
/// <param name="Kind"><see cref="Callbacks.Callback"/> or <see cref="Callbacks.Emergency"/>: one of each per call.</param>
/// <param name="Source">request, closed, no_transfer_number, transfer_failed or emergency.</param>
/// <param name="Phone">E.164; the number the team rings.</param>
/// <param name="Reason">As said (sealed); a copy with personal values replaced is stored for lists.</param>
public sealed record NewCallback(string? CallId, string Kind, string Source, string Phone, string Reason, string? PreferredTime, bool Urgent);

public abstract record CallbackChange
{
    public sealed record Updated(CallbackView Callback) : CallbackChange;
    public sealed record NotFound : CallbackChange;
    public sealed record Conflict(string Detail) : CallbackChange;
}

/// <summary>
/// Callbacks: opened from the voice agent (request_callback, a transfer while closed, a transfer that
/// did not connect, an emergency), listed and closed by staff (API and console). Everything runs in
/// the caller's tenant session, so RLS scopes it; every change is audited in the same transaction
/// (without the number or the reason's text).
/// </summary>
public sealed class Callbacks(Vault vault, PiiDetector detector)
{
    public const string Callback = "callback", Emergency = "emergency";
    public const string Open = "open", Done = "done", NoAnswer = "no_answer";
    public static readonly IReadOnlyList<string> Statuses = [Open, Done, NoAnswer];
    public const int MaxReasonChars = 500, MaxNoteChars = 2000, MaxPreferredTimeChars = 100;
    const int ListLimit = 500;

    /// <summary>The reason with every value the PII detector finds replaced by its type ([NAME], [PHONE], …) — the redact path's public transcript.</summary>
    public string Sanitize(string text)
    {
        var clean = Routing.PublicTranscript(text, detector.Detect(text));
        return clean.Length <= 600 ? clean : clean[..600];
    }

    /// <summary>Opens a callback, once per call and kind. With <paramref name="replace"/> (the caller asked
    /// again in the same call) an existing one takes the new reason, number and time and is open again;
    /// without, an existing one stays as it is. Returns the callback's id and whether it is new.</summary>
    public async Task<(Guid Id, bool Created)> OpenAsync(DbSession s, Guid clinicId, NewCallback c, bool replace, CancellationToken ct)
    {
        var hash = await vault.CallerHashAsync(s, clinicId, CallerSubject.Phone(c.Phone), ct);
        var reason = c.Reason.Length <= MaxReasonChars ? c.Reason : c.Reason[..MaxReasonChars];
        var content = new CallbackContent(c.Phone, reason, c.PreferredTime);
        var id = Guid.NewGuid();
        var args = new
        {
            Id = id, C = clinicId, Call = c.CallId, c.Kind, c.Source, Hash = hash, Reason = Sanitize(reason),
            Priority = c.Urgent ? "urgent" : "normal",
            Content = await vault.SealForCallerAsync(s, clinicId, hash, CallbackContent.Table, id.ToString(), content, ct),
        };
        var inserted = await s.QueryAsync<Guid>("""
            insert into callbacks (id, clinic_id, call_id, kind, source, caller_hash, content, reason, priority)
            values (@Id, @C, @Call, @Kind, @Source, @Hash, @Content, @Reason, @Priority)
            on conflict (clinic_id, call_id, kind) do nothing
            returning id
            """, args, ct);
        if (inserted.Count == 1)
        {
            await AuditLog.WriteAsync(s, clinicId, "callback_opened", "callback", id.ToString(),
                new { source = c.Source, priority = args.Priority, callId = c.CallId }, ct);
            return (id, true);
        }

        // The call already has one of this kind: the unique key decided it (a concurrent delivery too).
        var existing = await s.QuerySingleOrDefaultAsync<Guid>(
            "select id from callbacks where clinic_id = @C and call_id = @Call and kind = @Kind for update", args, ct);
        if (!replace) return (existing, false);
        // Sealed again for the existing row: the associated data names the row.
        await s.ExecuteAsync("""
            update callbacks set
              note = case when caller_hash = @Hash then note end,   -- a note sealed under another caller's key could not be opened
              caller_hash = @Hash, content = @Content, reason = @Reason, source = @Source,
              priority = case when priority = 'urgent' then priority else @Priority end,
              status = 'open', updated_at = now()
            where clinic_id = @C and id = @Id
            """, args with { Id = existing, Content = await vault.SealForCallerAsync(s, clinicId, hash, CallbackContent.Table, existing.ToString(), content, ct) }, ct);
        await AuditLog.WriteAsync(s, clinicId, "callback_reopened", "callback", existing.ToString(), new { source = c.Source, callId = c.CallId }, ct);
        return (existing, false);
    }

    sealed record Row(Guid Id, string? CallId, byte[] CallerHash, byte[] Content, string Reason, string Priority, string Status, DateTimeOffset CreatedAt,
        string Source, byte[]? Note, int Attempts, DateTimeOffset UpdatedAt, DateTimeOffset? HandledAt);

    const string Select = """
        select id, call_id, caller_hash, content, reason, priority, status, created_at, source, note, attempts, updated_at, handled_at
        from callbacks
        """;

    /// <summary>A clinic's callbacks with <paramref name="status"/> (null: every status): urgent first, then the longest waiting.</summary>
    public async Task<IReadOnlyList<CallbackView>> ListAsync(DbSession s, Guid clinicId, string? status, CancellationToken ct)
    {
        var rows = await s.QueryAsync<Row>($"""
            {Select}
            where clinic_id = @C and (@Status::text is null or status = @Status)
            order by (status = 'open') desc, (priority = 'urgent') desc, created_at
            limit {ListLimit}
            """, new { C = clinicId, Status = status }, ct);
        return await ViewsAsync(s, clinicId, rows, ct);
    }

    public async Task<CallbackView?> FindAsync(DbSession s, Guid clinicId, Guid id, CancellationToken ct)
    {
        var rows = await s.QueryAsync<Row>($"{Select} where clinic_id = @C and id = @Id", new { C = clinicId, Id = id }, ct);
        return rows.Count == 0 ? null : (await ViewsAsync(s, clinicId, rows, ct))[0];
    }

    async Task<IReadOnlyList<CallbackView>> ViewsAsync(DbSession s, Guid clinicId, IReadOnlyList<Row> rows, CancellationToken ct)
    {
        var keys = new Dictionary<string, CallerDecryptor?>(StringComparer.Ordinal);
        var views = new List<CallbackView>(rows.Count);
        foreach (var r in rows)
        {
            var hex = Convert.ToHexString(r.CallerHash);
            if (!keys.TryGetValue(hex, out var open)) keys[hex] = open = await vault.OpenForCallerAsync(s, clinicId, r.CallerHash, ct);
            var content = open is null ? null : Vault.TryOpen<CallbackContent>(open, CallbackContent.Table, r.Id.ToString(), r.Content);
            var note = open is null || r.Note is null ? null : Vault.TryOpen<string>(open, CallbackContent.Table, NoteKey(r.Id), r.Note);
            views.Add(new CallbackView(r.Id, r.CallId, content?.Phone, r.Reason, r.Priority, r.Status, r.CreatedAt, r.Source, content?.PreferredTime,
                note, r.Attempts, r.UpdatedAt, r.HandledAt));
        }
        return views;
    }

    static string NoteKey(Guid id) => id + ":note";

    sealed record Lock(string Status, byte[] CallerHash);

    /// <summary>Staff closed a callback (done) or tried and got no answer (no_answer: it stays on the list,
    /// counted). A note replaces the previous one. A callback that is done stays done (409).</summary>
    public async Task<CallbackChange> UpdateAsync(DbSession s, Guid clinicId, Guid id, string status, string? note, CancellationToken ct)
    {
        var row = await s.QuerySingleOrDefaultAsync<Lock>(
            "select status, caller_hash from callbacks where clinic_id = @C and id = @Id for update", new { C = clinicId, Id = id }, ct);
        if (row is null) return new CallbackChange.NotFound();
        if (row.Status == Done) return new CallbackChange.Conflict("This callback is already done.");
        var sealedNote = note is null ? null : await vault.SealForCallerAsync(s, clinicId, row.CallerHash, CallbackContent.Table, NoteKey(id), note, ct);
        await s.ExecuteAsync("""
            update callbacks set status = @Status, note = coalesce(@Note, note), attempts = attempts + 1,
                   handled_by = @Actor, handled_at = now(), updated_at = now()
            where clinic_id = @C and id = @Id
            """, new { C = clinicId, Id = id, Status = status, Note = sealedNote, Actor = Cap(s.Claims.Actor) }, ct);
        await AuditLog.WriteAsync(s, clinicId, "callback_updated", "callback", id.ToString(), new { from = row.Status, status, note = note is not null }, ct);
        return new CallbackChange.Updated((await FindAsync(s, clinicId, id, ct))!);
    }

    static string Cap(string s) => s.Length <= 200 ? s : s[..200];
}
