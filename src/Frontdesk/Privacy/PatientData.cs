using System.Text.Json;
using Frontdesk.Audit;
using Frontdesk.Booking;
using Frontdesk.Calls;
using Frontdesk.Clinics;
using Frontdesk.FollowUp;
using Frontdesk.Messaging;

namespace Frontdesk.Privacy;

public sealed record ContactView(Guid Id, string Kind, string Value, string? CallId, DateTimeOffset CreatedAt);

public sealed record IdentifierView(Guid Id, string Kind, string Value, string? CallId, DateTimeOffset EncryptedAt);

/// <summary>What Frontdesk answered the voice agent during a call (tool results), kept for replays.</summary>
public sealed record CallEventExport(string Type, string Discriminator, DateTimeOffset ReceivedAt, JsonElement? Response);

/// <summary>A call of the patient (by their number, or linked by a booking or lead), its content decrypted.
/// Content fields are null once retention purged them (<see cref="ContentPurgedAt"/>).</summary>
public sealed record CallExport(string CallId, string? Status, string? EndedReason, DateTimeOffset? StartedAt, DateTimeOffset? EndedAt,
    decimal? Cost, decimal? DurationSeconds, string? Procedure, string? CustomerNumber, string? CustomerName, string? Transcript,
    JsonElement? Messages, string? Summary, string? RecordingUrl, string? StereoRecordingUrl, JsonElement? StructuredData,
    string? SuccessEvaluation, DateTimeOffset? ContentPurgedAt, IReadOnlyList<CallEventExport> Events, DateTimeOffset CreatedAt);

public sealed record FollowUpExport(Guid Id, string Procedure, string Channel, string Template, string AssignedAgent, string? PdfLink,
    string Status, DateTimeOffset CreatedAt);

/// <summary>A hang-up lead of the patient's number; <see cref="Phone"/> and <see cref="Name"/> are null once minimised.</summary>
public sealed record LeadExport(Guid Id, string CallId, string? ExternalRef, string? Phone, string? Name, string Procedure, string Source,
    Guid? PatientId, Guid? ConvertedBookingId, DateTimeOffset? ConvertedAt, DateTimeOffset? MinimisedAt, DateTimeOffset CreatedAt,
    IReadOnlyList<FollowUpExport> FollowUps);

/// <summary>An SMS to the patient's number; <see cref="To"/> and <see cref="Body"/> are null once purged.</summary>
public sealed record MessageExport(Guid Id, Guid? FollowupId, string? To, string? Body, string Status, int Segments, string Encoding,
    int? ErrorCode, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ContentPurgedAt);

/// <summary>A callback for the patient's number or one of their calls (issue 17), decrypted: the number rung,
/// the reason as the caller said it, the preferred time and the staff note.</summary>
public sealed record CallbackExport(Guid Id, string? CallId, string Kind, string Source, string? Phone, string? Reason, string SanitizedReason,
    string? PreferredTime, string Priority, string Status, string? Note, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset? HandledAt);

/// <summary>An SMS the patient sent us (a reply to a reminder, or an inbox message); <see cref="From"/> and
/// <see cref="Text"/> are null for reply words (nothing but the word's meaning was kept) and once purged.</summary>
public sealed record ReplyExport(Guid Id, string Kind, string? From, string? Text, Guid? BookingId, string Status, DateTimeOffset ReceivedAt,
    DateTimeOffset? HandledAt, DateTimeOffset? ContentPurgedAt);

public sealed record PatientExport(PatientView Patient, IReadOnlyList<ContactView> Contacts, IReadOnlyList<IdentifierView> Identifiers,
    IReadOnlyList<ClinicalNoteView> ClinicalNotes, IReadOnlyList<BookingView> Bookings, IReadOnlyList<string> PublicTranscripts,
    IReadOnlyList<CallExport> Calls, IReadOnlyList<LeadExport> Leads, IReadOnlyList<MessageExport> Messages, bool SmsOptedOut,
    IReadOnlyList<AuditEntry> AuditTrail, DateTimeOffset ExportedAt, IReadOnlyList<CallbackExport>? Callbacks = null,
    IReadOnlyList<ReplyExport>? Replies = null, IReadOnlyList<Frontdesk.Waitlist.WaitlistEntryView>? Waitlist = null);

/// <summary>
/// GDPR access (everything held on a patient, decrypted for the controller) and erasure. A patient's
/// data is everything linked to them by id (contacts, identifiers, notes, bookings, transcripts, their
/// leads) or by number (calls, leads and messages under the caller keys of their numbers) —
/// docs/data-inventory.md lists every column and how each is treated here.
/// </summary>
public static class PatientData
{
    sealed record CipherRow(Guid Id, string Kind, byte[] Ciphertext, string? CallId, DateTimeOffset EncryptedAt);

    sealed record PatientRow(Guid Id, string? Phone);

    /// <summary>The caller hashes (keys) of the patient's numbers and the ids of calls linked to them.</summary>
    sealed record Links(byte[][] Hashes, string[] CallIds, string? Phone);

    static async Task<Links> LinksAsync(DbSession s, Vault vault, Guid clinicId, PatientRow patient, CancellationToken ct)
    {
        var hashes = new List<byte[]>();
        if (patient.Phone is { } phone) hashes.Add(await vault.CallerHashAsync(s, clinicId, CallerSubject.Phone(phone), ct));
        var args = new { C = clinicId, P = patient.Id };
        hashes.AddRange(await s.QueryAsync<byte[]>(
            "select distinct phone_hash from leads where clinic_id = @C and patient_id = @P and phone_hash is not null", args, ct));
        var callIds = await s.QueryAsync<string>("""
            select call_id from bookings where clinic_id = @C and patient_id = @P and call_id is not null
            union select call_id from leads where clinic_id = @C and patient_id = @P
            union select call_id from public_transcripts where clinic_id = @C and patient_id = @P and call_id is not null
            union select call_id from contacts where clinic_id = @C and patient_id = @P and call_id is not null
            union select call_id from secure_identifiers where clinic_id = @C and patient_id = @P and call_id is not null
            union select call_id from clinical_notes where clinic_id = @C and patient_id = @P and call_id is not null
            """, args, ct);
        var distinct = hashes.DistinctBy(Convert.ToHexString).ToArray();
        return new Links(distinct, [.. callIds], patient.Phone);
    }

    // ---------------------------------------------------------------------------------------- export

    sealed record CallRow(string CallId, string? Status, string? EndedReason, DateTimeOffset? StartedAt, DateTimeOffset? EndedAt, decimal? Cost,
        decimal? DurationSeconds, string? Procedure, byte[]? CallerHash, byte[]? Content, DateTimeOffset? ContentPurgedAt, DateTimeOffset CreatedAt);

    sealed record EventRow(string CallId, string Type, string Discriminator, DateTimeOffset ReceivedAt, JsonElement? Response);

    sealed record LeadRow(Guid Id, string CallId, string? ExternalRef, byte[]? PhoneHash, byte[]? Content, string Procedure, string Source,
        Guid? PatientId, Guid? ConvertedBookingId, DateTimeOffset? ConvertedAt, DateTimeOffset? MinimisedAt, DateTimeOffset CreatedAt);

    sealed record FollowUpRow(Guid LeadId, Guid Id, string Procedure, string Channel, string Template, string AssignedAgent, string? PdfLink,
        string Status, DateTimeOffset CreatedAt);

    sealed record MessageRow(Guid Id, Guid? FollowupId, byte[]? ToHash, byte[]? Content, string Status, int Segments, string Encoding,
        int? ErrorCode, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ContentPurgedAt);

    sealed record CallbackRow(Guid Id, string? CallId, string Kind, string Source, byte[] CallerHash, byte[] Content, string Reason, string Priority,
        string Status, byte[]? Note, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset? HandledAt);

    /// <summary>Opens caller ciphertexts, one key lookup per caller.</summary>
    sealed class Openers(DbSession s, Vault vault, Guid clinicId, CancellationToken ct)
    {
        readonly Dictionary<string, CallerDecryptor?> _byHash = new(StringComparer.Ordinal);

        public async Task<T?> OpenAsync<T>(byte[]? hash, string table, string rowKey, byte[]? ciphertext) where T : class
        {
            if (hash is null || ciphertext is null) return null;
            var key = Convert.ToHexString(hash);
            if (!_byHash.TryGetValue(key, out var open)) _byHash[key] = open = await vault.OpenForCallerAsync(s, clinicId, hash, ct);
            return open is null ? null : Vault.TryOpen<T>(open, table, rowKey, ciphertext);
        }
    }

    public static async Task<PatientExport?> ExportAsync(DbSession s, Vault vault, Guid clinicId, Guid patientId, CancellationToken ct)
    {
        var patient = await s.QuerySingleOrDefaultAsync<PatientView>(
            $"select {PatientEndpoints.Columns} from patients where id = @P and clinic_id = @C", new { P = patientId, C = clinicId }, ct);
        if (patient is null) return null;
        var args = new { P = patientId, C = clinicId };
        var contacts = await s.QueryAsync<ContactView>(
            "select id, kind, value, call_id, created_at from contacts where clinic_id = @C and patient_id = @P order by created_at", args, ct);
        var rows = await s.QueryAsync<CipherRow>(
            "select id, kind, ciphertext, call_id, encrypted_at from secure_identifiers where clinic_id = @C and patient_id = @P order by encrypted_at", args, ct);
        var decrypt = await vault.DecryptorAsync(s, clinicId, patientId, ct);
        var identifiers = decrypt is null ? [] : rows.Select(r => new IdentifierView(r.Id, r.Kind, decrypt(Routing.SecureIdentifiers, r.Id, r.Ciphertext), r.CallId, r.EncryptedAt)).ToList();
        var notes = decrypt is null ? [] : await PrivacyEndpoints.DecryptNotesAsync(s, vault, clinicId, patientId, ct);
        var bookings = await s.QueryAsync<BookingView>(
            $"select {BookingEndpoints.Columns} from bookings where clinic_id = @C and patient_id = @P order by starts_at", args, ct);
        var transcripts = await s.QueryAsync<string>(
            "select public_transcript from public_transcripts where clinic_id = @C and patient_id = @P order by created_at", args, ct);

        var links = await LinksAsync(s, vault, clinicId, new PatientRow(patientId, patient.Phone), ct);
        var open = new Openers(s, vault, clinicId, ct);
        var linkArgs = new { C = clinicId, P = patientId, H = links.Hashes, Calls = links.CallIds };

        var callRows = await s.QueryAsync<CallRow>("""
            select call_id, status, ended_reason, started_at, ended_at, cost, duration_seconds, procedure, caller_hash, content,
                   content_purged_at, created_at
            from calls where clinic_id = @C and (caller_hash = any(@H) or call_id = any(@Calls))
            order by created_at
            """, linkArgs, ct);
        var events = (await s.QueryAsync<EventRow>("""
            select call_id, type, discriminator, received_at, response from vapi_events
            where clinic_id = @C and call_id = any(@Calls) and response is not null
            order by received_at, id
            """, new { C = clinicId, Calls = callRows.Select(c => c.CallId).ToArray() }, ct)).ToLookup(e => e.CallId);
        var calls = new List<CallExport>(callRows.Count);
        foreach (var c in callRows)
        {
            var content = await open.OpenAsync<CallContent>(c.CallerHash, CallContent.Table, c.CallId, c.Content);
            calls.Add(new CallExport(c.CallId, c.Status, c.EndedReason, c.StartedAt, c.EndedAt, c.Cost, c.DurationSeconds, c.Procedure,
                content?.CustomerNumber, content?.CustomerName, content?.Transcript, content?.Messages, content?.Summary, content?.RecordingUrl,
                content?.StereoRecordingUrl, content?.StructuredData, content?.SuccessEvaluation, c.ContentPurgedAt,
                events[c.CallId].Select(e => new CallEventExport(e.Type, e.Discriminator, e.ReceivedAt, e.Response)).ToList(), c.CreatedAt));
        }

        var leadRows = await s.QueryAsync<LeadRow>("""
            select id, call_id, external_ref, phone_hash, content, procedure, source, patient_id, converted_booking_id, converted_at,
                   minimised_at, created_at
            from leads where clinic_id = @C and (patient_id = @P or phone_hash = any(@H))
            order by created_at
            """, linkArgs, ct);
        var leadIds = leadRows.Select(l => l.Id).ToArray();
        var followUps = (await s.QueryAsync<FollowUpRow>("""
            select lead_id, id, procedure, channel, template, assigned_agent, pdf_link, status, created_at
            from lead_followups where clinic_id = @C and lead_id = any(@Leads) order by created_at
            """, new { C = clinicId, Leads = leadIds }, ct)).ToLookup(f => f.LeadId);
        var leads = new List<LeadExport>(leadRows.Count);
        foreach (var l in leadRows)
        {
            var contact = await open.OpenAsync<LeadContact>(l.PhoneHash, LeadContact.Table, l.Id.ToString(), l.Content);
            leads.Add(new LeadExport(l.Id, l.CallId, l.ExternalRef, contact?.Phone, contact?.Name, l.Procedure, l.Source, l.PatientId,
                l.ConvertedBookingId, l.ConvertedAt, l.MinimisedAt, l.CreatedAt,
                followUps[l.Id].Select(f => new FollowUpExport(f.Id, f.Procedure, f.Channel, f.Template, f.AssignedAgent, f.PdfLink, f.Status, f.CreatedAt)).ToList()));
        }

        var messageRows = await s.QueryAsync<MessageRow>("""
            select m.id, m.followup_id, m.to_hash, m.content, m.status, m.segments, m.encoding, m.error_code, m.created_at, m.updated_at,
                   m.content_purged_at
            from sms_messages m
            where m.clinic_id = @C and (m.to_hash = any(@H)
               or m.followup_id in (select f.id from lead_followups f where f.clinic_id = @C and f.lead_id = any(@Leads)))
            order by m.created_at
            """, new { C = clinicId, H = links.Hashes, Leads = leadIds }, ct);
        var messages = new List<MessageExport>(messageRows.Count);
        foreach (var m in messageRows)
        {
            var sms = await open.OpenAsync<SmsContent>(m.ToHash, SmsContent.Table, m.Id.ToString(), m.Content);
            messages.Add(new MessageExport(m.Id, m.FollowupId, sms?.To, sms?.Body, m.Status, m.Segments, m.Encoding, m.ErrorCode, m.CreatedAt,
                m.UpdatedAt, m.ContentPurgedAt));
        }
        var callbackRows = await s.QueryAsync<CallbackRow>("""
            select id, call_id, kind, source, caller_hash, content, reason, priority, status, note, attempts, created_at, handled_at
            from callbacks where clinic_id = @C and (caller_hash = any(@H) or call_id = any(@Calls))
            order by created_at
            """, new { C = clinicId, H = links.Hashes, Calls = links.CallIds.Concat(callRows.Select(c => c.CallId)).Distinct().ToArray() }, ct);
        var callbacks = new List<CallbackExport>(callbackRows.Count);
        foreach (var c in callbackRows)
        {
            var content = await open.OpenAsync<Reception.CallbackContent>(c.CallerHash, Reception.CallbackContent.Table, c.Id.ToString(), c.Content);
            var note = c.Note is null ? null : await open.OpenAsync<string>(c.CallerHash, Reception.CallbackContent.Table, c.Id + ":note", c.Note);
            callbacks.Add(new CallbackExport(c.Id, c.CallId, c.Kind, c.Source, content?.Phone, content?.Reason, c.Reason, content?.PreferredTime, c.Priority,
                c.Status, note, c.Attempts, c.CreatedAt, c.HandledAt));
        }
        var replyRows = await s.QueryAsync<ReplyRow>(RepliesSql, new { C = clinicId, P = patientId, H = links.Hashes }, ct);
        var replies = new List<ReplyExport>(replyRows.Count);
        foreach (var r in replyRows)
        {
            var text = await open.OpenAsync<Inbox.InboundText>(r.FromHash, Inbox.InboundReplies.Table, r.Id.ToString(), r.Content);
            replies.Add(new ReplyExport(r.Id, r.Kind, text?.From, text?.Text, r.BookingId, r.Status, r.ReceivedAt, r.HandledAt, r.ContentPurgedAt));
        }
        var optedOut = await s.QuerySingleOrDefaultAsync<bool>(
            "select exists (select 1 from sms_opt_outs where clinic_id = @C and phone_hash = any(@H))", linkArgs, ct);

        var audit = await s.QueryAsync<AuditEntry>("""
            select seq, at, actor, action, entity, entity_id, detail from audit_trail
            where clinic_id = @C and (entity_id = @Id or detail ->> 'patientId' = @Id)
            order by seq
            """, new { C = clinicId, Id = patientId.ToString() }, ct);
        var waitlist = await Frontdesk.Waitlist.WaitlistEntries.ForPatientAsync(s, clinicId, patientId, ct);
        return new PatientExport(patient, contacts, identifiers, notes, bookings, transcripts, calls, leads, messages, optedOut, audit,
            DateTimeOffset.UtcNow, callbacks, replies, waitlist);
    }

    sealed record ReplyRow(Guid Id, string Kind, byte[] FromHash, byte[]? Content, Guid? BookingId, string Status, DateTimeOffset ReceivedAt,
        DateTimeOffset? HandledAt, DateTimeOffset? ContentPurgedAt);

    /// <summary>The patient's SMS replies: from their numbers, or about their bookings. Parameters: C, P, H.</summary>
    const string RepliesSql = """
        select r.id, r.kind, r.from_hash, r.content, r.booking_id, r.status, r.received_at, r.handled_at, r.content_purged_at
        from sms_replies r
        where r.clinic_id = @C and (r.from_hash = any(@H)
           or r.booking_id in (select b.id from bookings b where b.clinic_id = @C and b.patient_id = @P))
        order by r.received_at
        """;

    // --------------------------------------------------------------------------------------- erasure

    /// <summary>
    /// Erasure: everything linked to the patient by id or by number is deleted or shredded in one
    /// transaction — the caller keys of their numbers destroyed first (a transaction still sealing
    /// under one finishes before, and its rows are then seen and removed), then their leads (with
    /// follow-ups and messages) and queued SMS jobs deleted, the content of their calls and the
    /// replies stored for those calls' webhooks dropped, their callbacks deleted, future bookings cancelled, contacts,
    /// identifiers, notes, sanitized transcripts, SMS replies (the inbox) and the reminders of their bookings
    /// deleted, the patient's data key destroyed and the
    /// patient row scrubbed to a tombstone. Opt-outs stay (by number hash only): a STOP outlives an
    /// erasure. The audit row keeps counts, never values.
    /// </summary>
    public static async Task<bool> EraseAsync(DbSession s, Vault vault, Guid clinicId, Guid patientId, CancellationToken ct)
    {
        var patient = await s.QuerySingleOrDefaultAsync<PatientRow>(
            "select id, phone from patients where id = @P and clinic_id = @C and erased_at is null for update", new { P = patientId, C = clinicId }, ct);
        if (patient is null) return false;
        var links = await LinksAsync(s, vault, clinicId, patient, ct);
        var args = new { C = clinicId, P = patientId, H = links.Hashes, Calls = links.CallIds, Phone = links.Phone };

        var callerKeys = await Vault.DestroyCallerKeysAsync(s, clinicId, links.Hashes, ct);

        // Rows from before contacts were sealed (not yet backfilled) match by the plaintext number.
        var leadIds = await s.QueryAsync<Guid>("""
            select id from leads where clinic_id = @C and (patient_id = @P or phone_hash = any(@H) or (@Phone::text is not null and phone = @Phone))
            """, args, ct);
        var messageIds = await s.QueryAsync<Guid>("""
            select id from sms_messages where clinic_id = @C and (to_hash = any(@H) or (@Phone::text is not null and to_phone = @Phone)
               or followup_id in (select f.id from lead_followups f where f.clinic_id = @C and f.lead_id = any(@Leads)))
            """, new { C = clinicId, H = links.Hashes, Phone = links.Phone, Leads = leadIds.ToArray() }, ct);
        var ids = messageIds.Select(m => m.ToString()).ToArray();
        var jobs = await s.ExecuteAsync("""
            delete from outbox where clinic_id = @C and kind = @Kind and coalesce(payload ->> 'MessageId', payload ->> 'messageId') = any(@Ids)
            """, new { C = clinicId, Kind = SmsSender.JobKind, Ids = ids }, ct);
        var messages = await s.ExecuteAsync("delete from sms_messages where clinic_id = @C and id = any(@Ids)",
            new { C = clinicId, Ids = messageIds.ToArray() }, ct);
        var leadCallIds = await s.QueryAsync<string>("delete from leads where clinic_id = @C and id = any(@Ids) returning call_id",
            new { C = clinicId, Ids = leadIds.ToArray() }, ct);

        var callIds = links.CallIds.Concat(leadCallIds).Distinct().ToArray();
        var scrubbed = await s.QueryAsync<string>("""
            update calls set content = null, caller_hash = null, report = null, summary = null, structured_data = null,
                   success_evaluation = null, customer_number = null, updated_at = now()
            where clinic_id = @C and (caller_hash = any(@H) or call_id = any(@Calls) or (@Phone::text is not null and customer_number = @Phone))
            returning call_id
            """, new { C = clinicId, H = links.Hashes, Calls = callIds, Phone = links.Phone }, ct);
        callIds = callIds.Concat(scrubbed).Distinct().ToArray();
        // The rows stay (they absorb a late replay of the same webhook); the answers go.
        var events = await s.ExecuteAsync("""
            update vapi_events set response = '{}'::jsonb where clinic_id = @C and call_id = any(@Calls) and response is not null
            """, new { C = clinicId, Calls = callIds }, ct);

        var callbacks = await s.ExecuteAsync("delete from callbacks where clinic_id = @C and (caller_hash = any(@H) or call_id = any(@Calls))",
            new { C = clinicId, H = links.Hashes, Calls = callIds }, ct);

        // Their waitlist entries and offers go (an open offer's hold released) before their bookings free slots.
        var waitlist = await Frontdesk.Waitlist.WaitlistEntries.EraseAsync(s, clinicId, patientId, ct);
        var future = await s.QueryAsync<Guid>("""
            select id from bookings where clinic_id = @C and patient_id = @P and status = 'confirmed' and starts_at > now()
            """, args, ct);
        foreach (var booking in future) await SlotEngine.CancelAsync(s, booking, clinicId, ct);

        // Their replies (texts sealed under the caller keys destroyed above) and every reminder of their bookings.
        var replies = await s.ExecuteAsync($"""
            delete from sms_replies where clinic_id = @C and id in (select id from ({RepliesSql}) r)
            """, new { C = clinicId, P = patientId, H = links.Hashes }, ct);
        var reminders = await s.ExecuteAsync("""
            delete from booking_reminders where clinic_id = @C and booking_id in (select id from bookings where clinic_id = @C and patient_id = @P)
            """, args, ct);

        var contacts = await s.ExecuteAsync("delete from contacts where clinic_id = @C and patient_id = @P", args, ct);
        var identifiers = await s.ExecuteAsync("delete from secure_identifiers where clinic_id = @C and patient_id = @P", args, ct);
        var notes = await s.ExecuteAsync("delete from clinical_notes where clinic_id = @C and patient_id = @P", args, ct);
        var transcripts = await s.ExecuteAsync(
            "delete from public_transcripts where clinic_id = @C and (patient_id = @P or call_id = any(@Calls))", new { C = clinicId, P = patientId, Calls = callIds }, ct);
        await Vault.DestroyKeyAsync(s, clinicId, patientId, ct);
        await s.ExecuteAsync("update patients set name = null, phone = null, email = null, erased_at = now() where id = @P and clinic_id = @C", args, ct);
        await AuditLog.WriteAsync(s, clinicId, "erased", "patient", patientId.ToString(), new
        {
            contacts, identifiers, notes, transcripts, calls = scrubbed.Count, webhookReplies = events, leads = leadIds.Count, messages,
            smsJobs = jobs, bookingsCancelled = future.Count, waitlistEntries = waitlist, callerKeys, callbacks, dataKey = "destroyed", replies, reminders,
        }, ct);
        return true;
    }
}
