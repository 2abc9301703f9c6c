using System.Security.Cryptography;
using Frontdesk.Audit;
using Frontdesk.Privacy.Detection;
using Frontdesk.Tenancy;

namespace Frontdesk.Privacy;

public sealed record RedactRequest(Guid ClinicId, Guid PatientId, string Transcript, string? CallId = null);

public sealed record RoutedEntity(string Type, string Value, double Confidence, int StartPos, int EndPos, string Table, bool Encrypted);

public sealed record RedactResponse(IReadOnlyList<RoutedEntity> Entities, string PublicTranscript, string Summary);

public sealed record ClinicalNoteView(Guid Id, string Kind, string Text, string? CallId, DateTimeOffset EncryptedAt);

public static partial class PrivacyEndpoints
{
    /// <summary>Longest transcript accepted (characters); longer is 413.</summary>
    public const int MaxTranscriptChars = 100_000;

    public static void MapPrivacy(this IEndpointRouteBuilder app)
    {
        app.MapPost("/functions/v1/redact_and_store_pii", RedactAndStore).WithTags("Privacy").RequireAuthorization(Auth.Policies.Member);
        var patient = app.MapGroup("/api/patients/{clinicId}/{patientId}").WithTags("Privacy")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter);
        patient.MapGet("/clinical-notes", ReadClinicalNotes);
        patient.MapGet("/export", Export);
    }

    static async Task<Results<Ok<RedactResponse>, ProblemHttpResult>> RedactAndStore(
        RedactRequest body, HttpContext http, Db db, PiiDetector detector, Vault vault, ILoggerFactory loggers, CancellationToken ct)
    {
        if (body.ClinicId == Guid.Empty || body.PatientId == Guid.Empty) return Problems.Invalid("clinicId and patientId are required.");
        if (string.IsNullOrWhiteSpace(body.Transcript)) return Problems.Invalid("transcript must not be empty.");
        if (body.Transcript.Length > MaxTranscriptChars)
            return Problems.Problem(413, Problems.PayloadTooLarge, "Transcript too long", $"At most {MaxTranscriptChars} characters.");
        if (body.CallId is { Length: > 200 }) return Problems.Invalid("callId is at most 200 characters.");
        if (await ClinicScope.DenyIfForeignAsync(http, body.ClinicId, ct) is { } denied) return denied;

        var entities = detector.Detect(body.Transcript);
        var claims = http.Claims();
        var response = await db.InTransactionAsync(claims, async s =>
        {
            if (await s.QuerySingleOrDefaultAsync<Guid?>("select id from patients where id = @P and clinic_id = @C and erased_at is null",
                    new { P = body.PatientId, C = body.ClinicId }, ct) is null)
                return null;
            var routed = new List<RoutedEntity>(entities.Count);
            foreach (var e in entities)
            {
                var (table, encrypted) = Routing.For(e.Type);
                var rowId = Guid.NewGuid();
                if (encrypted)
                {
                    var ciphertext = await vault.EncryptAsync(s, body.ClinicId, body.PatientId, table, rowId, e.Value, ct);
                    await s.ExecuteAsync($"""
                        insert into {table} (id, clinic_id, patient_id, kind, ciphertext, call_id)
                        values (@Id, @C, @P, @Kind, @Cipher, @Call)
                        """, new { Id = rowId, C = body.ClinicId, P = body.PatientId, Kind = e.Type, Cipher = ciphertext, Call = body.CallId }, ct);
                }
                else
                {
                    await s.ExecuteAsync("""
                        insert into contacts (id, clinic_id, patient_id, kind, value, call_id) values (@Id, @C, @P, @Kind, @Value, @Call)
                        """, new { Id = rowId, C = body.ClinicId, P = body.PatientId, Kind = e.Type, e.Value, Call = body.CallId }, ct);
                }
                // Type only, never the value: the audit trail is readable by every clinic member.
                await AuditLog.WriteAsync(s, body.ClinicId, "created", table, rowId.ToString(),
                    new { type = e.Type, patientId = body.PatientId, encrypted, callId = body.CallId }, ct);
                routed.Add(new RoutedEntity(e.Type, encrypted ? "[ENCRYPTED]" : e.Value, e.Confidence, e.StartPos, e.EndPos, table, encrypted));
            }
            var publicTranscript = Routing.PublicTranscript(body.Transcript, entities);
            var summary = Routing.Summary(entities);
            await s.ExecuteAsync("""
                insert into public_transcripts (clinic_id, patient_id, call_id, public_transcript, summary) values (@C, @P, @Call, @T, @S)
                """, new { C = body.ClinicId, P = body.PatientId, Call = body.CallId, T = publicTranscript, S = summary }, ct);
            return new RedactResponse(routed, publicTranscript, summary);
        }, ct);
        if (response is null) return Problems.NotFoundProblem("Patient");
        Log.Stored(loggers.CreateLogger("Frontdesk.Privacy"), response.Entities.Count, body.PatientId.ToString());
        return TypedResults.Ok(response);
    }

    sealed record NoteRow(Guid Id, string Kind, byte[] Ciphertext, string? CallId, DateTimeOffset EncryptedAt);

    /// <summary>Decrypted clinical notes, for doctors only; every read and every refusal is audited.</summary>
    internal static async Task<Results<Ok<IReadOnlyList<ClinicalNoteView>>, ProblemHttpResult>> ReadClinicalNotes(
        Guid clinicId, Guid patientId, HttpContext http, Db db, Vault vault, CancellationToken ct)
    {
        var claims = http.Claims();
        await using var s = await db.BeginAsync(claims, ct);
        if (!claims.Has(AppRoles.Doctor, service: false))
        {
            await AuditLog.WriteAsync(s, clinicId, "access_denied", Routing.ClinicalNotes, patientId.ToString(),
                new { appRole = claims.AppRole ?? claims.Role }, ct);
            await s.CommitAsync(ct);
            return Problems.Problem(403, Problems.Forbidden, "Only doctors may read clinical notes");
        }
        if (await s.QuerySingleOrDefaultAsync<Guid?>("select id from patients where id = @P and clinic_id = @C", new { P = patientId, C = clinicId }, ct) is null)
            return Problems.NotFoundProblem("Patient");
        var notes = await DecryptNotesAsync(s, vault, clinicId, patientId, ct);
        await AuditLog.WriteAsync(s, clinicId, "accessed", Routing.ClinicalNotes, patientId.ToString(), new { count = notes.Count }, ct);
        await s.CommitAsync(ct);
        return TypedResults.Ok(notes);
    }

    internal static async Task<IReadOnlyList<ClinicalNoteView>> DecryptNotesAsync(DbSession s, Vault vault, Guid clinicId, Guid patientId, CancellationToken ct)
    {
        var rows = await s.QueryAsync<NoteRow>("""
            select id, kind, ciphertext, call_id, encrypted_at from clinical_notes
            where clinic_id = @C and patient_id = @P order by encrypted_at, id
            """, new { C = clinicId, P = patientId }, ct);
        if (rows.Count == 0) return [];
        var decrypt = await vault.DecryptorAsync(s, clinicId, patientId, ct)
                      ?? throw new CryptographicException("The patient's data key is destroyed.");
        return rows.Select(r => new ClinicalNoteView(r.Id, r.Kind, decrypt(Routing.ClinicalNotes, r.Id, r.Ciphertext), r.CallId, r.EncryptedAt)).ToList();
    }

    /// <summary>
    /// GDPR access (Art. 15): everything held on the patient, decrypted, for the controller to hand
    /// over. This is the one path besides a doctor's read that returns clinical notes decrypted: the
    /// clinic (the controller) must answer the patient's request whoever staffs the request, so an
    /// admin may export; a receptionist may not. Every export is audited as a GDPR access, and one
    /// that contains clinical notes also leaves an "accessed" row on them with that basis.
    /// </summary>
    internal static async Task<Results<Ok<PatientExport>, ProblemHttpResult>> Export(
        Guid clinicId, Guid patientId, HttpContext http, Db db, Vault vault, CancellationToken ct)
    {
        var claims = http.Claims();
        if (claims.Deny(AppRoles.Admin | AppRoles.Doctor, "Only an admin or a doctor may export a patient's data") is { } denied) return denied;
        await using var s = await db.BeginAsync(claims, ct);
        var export = await PatientData.ExportAsync(s, vault, clinicId, patientId, ct);
        if (export is null) return Problems.NotFoundProblem("Patient");
        await AuditLog.WriteAsync(s, clinicId, "exported", "patient", patientId.ToString(), new
        {
            basis = GdprAccess, appRole = claims.AppRole ?? claims.Role, clinicalNotes = export.ClinicalNotes.Count,
            identifiers = export.Identifiers.Count, calls = export.Calls.Count, leads = export.Leads.Count, messages = export.Messages.Count,
        }, ct);
        if (export.ClinicalNotes.Count > 0)
            await AuditLog.WriteAsync(s, clinicId, "accessed", Routing.ClinicalNotes, patientId.ToString(),
                new { count = export.ClinicalNotes.Count, basis = GdprAccess }, ct);
        await s.CommitAsync(ct);
        return TypedResults.Ok(export);
    }

    /// <summary>The audit basis of an export: the data subject's right of access, exercised through the controller.</summary>
    public const string GdprAccess = "gdpr_access";

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Stored {Count} detected entities for patient {PatientId}")]
        public static partial void Stored(ILogger logger, int count, [PersonalData] string patientId);
    }
}
