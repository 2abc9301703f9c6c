using Frontdesk.Audit;
using Frontdesk.Booking;
using Frontdesk.Clinics;

namespace Frontdesk.Privacy;

public sealed record ContactView(Guid Id, string Kind, string Value, string? CallId, DateTimeOffset CreatedAt);

public sealed record IdentifierView(Guid Id, string Kind, string Value, string? CallId, DateTimeOffset EncryptedAt);

public sealed record PatientExport(PatientView Patient, IReadOnlyList<ContactView> Contacts, IReadOnlyList<IdentifierView> Identifiers,
    IReadOnlyList<ClinicalNoteView> ClinicalNotes, IReadOnlyList<BookingView> Bookings, IReadOnlyList<string> PublicTranscripts,
    IReadOnlyList<AuditEntry> AuditTrail, DateTimeOffset ExportedAt);

/// <summary>GDPR access (everything held on a patient) and erasure (crypto-shredding).</summary>
public static class PatientData
{
    sealed record CipherRow(Guid Id, string Kind, byte[] Ciphertext, string? CallId, DateTimeOffset EncryptedAt);

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
        var audit = await s.QueryAsync<AuditEntry>("""
            select seq, at, actor, action, entity, entity_id, detail from audit_trail
            where clinic_id = @C and (entity_id = @Id or detail ->> 'patientId' = @Id)
            order by seq
            """, new { C = clinicId, Id = patientId.ToString() }, ct);
        return new PatientExport(patient, contacts, identifiers, notes, bookings, transcripts, audit, DateTimeOffset.UtcNow);
    }

    /// <summary>Erasure: contacts, identifiers, notes and transcripts deleted, the data key destroyed,
    /// the patient row scrubbed; the audit keeps a tombstone with counts only.</summary>
    public static async Task<bool> EraseAsync(DbSession s, Guid clinicId, Guid patientId, CancellationToken ct)
    {
        var args = new { P = patientId, C = clinicId };
        var scrubbed = await s.ExecuteAsync("""
            update patients set name = null, phone = null, email = null, erased_at = now()
            where id = @P and clinic_id = @C and erased_at is null
            """, args, ct);
        if (scrubbed != 1) return false;
        var contacts = await s.ExecuteAsync("delete from contacts where clinic_id = @C and patient_id = @P", args, ct);
        var identifiers = await s.ExecuteAsync("delete from secure_identifiers where clinic_id = @C and patient_id = @P", args, ct);
        var notes = await s.ExecuteAsync("delete from clinical_notes where clinic_id = @C and patient_id = @P", args, ct);
        var transcripts = await s.ExecuteAsync("delete from public_transcripts where clinic_id = @C and patient_id = @P", args, ct);
        await Vault.DestroyKeyAsync(s, clinicId, patientId, ct);
        await AuditLog.WriteAsync(s, clinicId, "erased", "patient", patientId.ToString(),
            new { contacts, identifiers, notes, transcripts, dataKey = "destroyed" }, ct);
        return true;
    }
}
