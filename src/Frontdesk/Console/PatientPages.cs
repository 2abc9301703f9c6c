using System.Text.Json;
using Frontdesk.Audit;
using Frontdesk.BookingPage;
using Frontdesk.Clinics;
using Frontdesk.Privacy;
using Frontdesk.Privacy.Detection;

using Frontdesk.Tenancy;

namespace Frontdesk.StaffConsole;

/// <summary>
/// Patients: search by name or number (posted, so nothing about a patient is ever in a URL; results
/// link by opaque id), a patient's bookings, messages, calls and consent, and the GDPR rights —
/// export and erasure — through the API's own handlers (their role checks and audit rows).
/// </summary>
public static class PatientPages
{
    public static void Map(RouteGroupBuilder console)
    {
        console.MapGet("/patients", ShowSearch);
        console.MapPost("/patients", Search);
        console.MapGet("/patients/{patientId:guid}", Show);
        console.MapPost("/patients/{patientId:guid}/export", Export);
        console.MapPost("/patients/{patientId:guid}/erase", Erase);
        console.MapPost("/patients/{patientId:guid}/waitlist/{entryId:guid}/remove", RemoveFromWaitlist);
    }

    /// <summary>Who reads full call transcripts: the roles the API lets export a patient's data
    /// (PrivacyEndpoints.Export: admin, doctor). Receptionists see sanitized summaries.</summary>
    public static bool CanReadTranscripts(ConsoleUser user) => user.Claims.Has(AppRoles.Admin | AppRoles.Doctor);

    sealed record Hit(Guid Id, string? Name, string? Phone, DateTimeOffset CreatedAt);

    static ContentHttpResult SearchPage(HttpContext http, string? query, IReadOnlyList<Hit>? hits, int status = 200, string? problem = null) =>
        ConsoleLayout.Page(http, "Patients", "patients", Html.Of($"""
            <h1>Patients</h1>
            {ConsoleLayout.Problem(problem)}
            <form method="post" action="{ConsoleRoutes.Patients}" class="stack" role="search">
            {ConsoleLayout.CsrfField(http)}
            <div><label for="q">Name or phone number</label><input id="q" name="q" type="search" required maxlength="100" autocomplete="off" value="{query ?? ""}"></div>
            <div><button type="submit">Search</button></div>
            </form>
            {(hits is null ? Html.Empty : hits.Count == 0 ? Html.Of($"""<p role="status">No patient matches.</p>""") : Html.Of($"""
                <h2>{hits.Count} match{(hits.Count == 1 ? "" : "es")}</h2>
                <div class="scroll"><table><thead><tr><th scope="col">Name</th><th scope="col">Phone</th><th scope="col">Since</th></tr></thead><tbody>
                {hits.Select(h => Html.Of($"""<tr><td><a href="{ConsoleRoutes.Patients}/{h.Id}">{h.Name ?? "(no name)"}</a></td><td>{ConsoleText.MaskedPhone(h.Phone)}</td><td>{h.CreatedAt.ToString("d MMM yyyy", ConsoleLayout.En)}</td></tr>"""))}
                </tbody></table></div>
                """))}
            """), status);

    static ContentHttpResult ShowSearch(HttpContext http) => SearchPage(http, null, null);

    static async Task<ContentHttpResult> Search(HttpContext http, ConsoleForms forms, Db db, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var q = form.Text("q", 100);
        if (q is null || q.Length < 2) return SearchPage(http, q, null, 400, "Type at least two letters of a name, or a phone number.");
        var user = ConsoleUser.Of(http);
        var digits = new string(q.Where(char.IsAsciiDigit).ToArray());
        var like = "%" + q.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
        var hits = await db.InTransactionAsync(user.Claims, async s =>
        {
            var rows = await s.QueryAsync<Hit>("""
                select id, name, phone, created_at from patients
                where clinic_id = @C and erased_at is null
                  and (name ilike @Like or (@Phone::text is not null and phone = @Phone) or (@Digits::text is not null and phone like '%' || @Digits))
                order by lower(name), created_at
                limit 50
                """, new { C = user.ClinicId, Like = like, Phone = Phone.ToE164(q, Phone.RegionForTimezone(user.ClinicTimezone)),
                Digits = digits.Length >= 4 ? digits : null }, ct);
            // How many, never what was searched for.
            await ConsoleText.ViewedAsync(s, user, "patient_search", null, null, new { results = rows.Count }, ct);
            return rows;
        }, ct);
        return SearchPage(http, q, hits);
    }

    sealed record BookingRow(DateTimeOffset StartsAt, string Practitioner, string Status, string Source);
    sealed record MessageRow(Guid Id, DateTimeOffset At, string Status, string? Body = null);
    sealed record CallRow(string CallId, DateTimeOffset At, string? EndedReason, string? Status, byte[]? CallerHash, byte[]? Content, bool Booked, bool FollowedUp,
        string? Summary = null, string? Transcript = null);
    sealed record OptOut(DateTimeOffset At, string Source);
    sealed record PractitionerName(Guid Id, string Name);

    /// <summary>Who reads a patient's texts to the clinic and changes the waitlist: the inbox and waitlist APIs' roles.</summary>
    static bool WorksInbox(ConsoleUser user) => user.Claims.Has(AppRoles.Admin | AppRoles.Receptionist);

    static async Task<ContentHttpResult> Show(Guid patientId, HttpContext http, Db db, Vault vault, PiiDetector detector, CancellationToken ct) =>
        await PatientPage(patientId, http, db, vault, detector, 200, null, ct);

    static async Task<ContentHttpResult> PatientPage(Guid patientId, HttpContext http, Db db, Vault vault, PiiDetector detector, int status, string? problem,
        CancellationToken ct)
    {
        var user = ConsoleUser.Of(http);
        var transcripts = CanReadTranscripts(user);
        PatientView? patient;
        IReadOnlyList<BookingRow> bookings = [];
        IReadOnlyList<MessageRow> messages = [];
        IReadOnlyList<CallRow> calls = [];
        OptOut? optOut = null;
        IReadOnlyList<Inbox.InboxItem> replies = [];
        IReadOnlyList<Waitlist.WaitlistEntryView> waitlist = [];
        IReadOnlyList<PractitionerName> names = [];
        await using (var s = await db.BeginAsync(user.Claims, ct))
        {
            var args = new { C = user.ClinicId, P = patientId };
            patient = await s.QuerySingleOrDefaultAsync<PatientView>(
                $"select {PatientEndpoints.Columns} from patients where clinic_id = @C and id = @P", args, ct);
            if (patient is null) return NotFound(http);
            if (patient.ErasedAt is null)
            {
                // Calls, messages and opt-outs name the caller by the keyed hash of the number, not the number.
                var hash = patient.Phone is { } phone ? await ConsoleContent.CallerHashAsync(s, vault, user.ClinicId, phone, ct) : null;
                var byCaller = new { C = user.ClinicId, Hash = hash, patient.Phone };
                bookings = await s.QueryAsync<BookingRow>("""
                    select b.starts_at, pr.name, b.status, b.source from bookings b
                    join practitioners pr on pr.clinic_id = b.clinic_id and pr.id = b.practitioner_id
                    where b.clinic_id = @C and b.patient_id = @P order by b.starts_at desc limit 100
                    """, args, ct);
                if (hash is not null)
                {
                    var messageRows = await s.QueryAsync<MessageRow>("""
                        select id, created_at, status, null::text from sms_messages where clinic_id = @C and to_hash = @Hash order by created_at desc limit 100
                        """, byCaller, ct);
                    var openedMessages = new List<MessageRow>();
                    foreach (var m in messageRows)
                        openedMessages.Add(m with { Body = (await ConsoleContent.MessageAsync(s, vault, m.Id, ct))?.Body });
                    messages = openedMessages;
                    var callRows = await s.QueryAsync<CallRow>("""
                        select c.call_id, coalesce(c.ended_at, c.started_at, c.created_at), c.ended_reason, c.status, c.caller_hash, c.content,
                               exists (select 1 from bookings b where b.clinic_id = c.clinic_id and b.call_id = c.call_id and b.status = 'confirmed'),
                               exists (select 1 from leads l where l.clinic_id = c.clinic_id and l.call_id = c.call_id),
                               null::text, null::text
                        from calls c where c.clinic_id = @C and c.caller_hash = @Hash order by 2 desc limit 50
                        """, byCaller, ct);
                    var openedCalls = new List<CallRow>();
                    foreach (var c in callRows)
                    {
                        var content = await ConsoleContent.CallAsync(s, vault, user.ClinicId, c.CallerHash, c.CallId, c.Content, ct);
                        // The full transcript only for the roles that may see it.
                        openedCalls.Add(c with { Summary = content?.Summary, Transcript = transcripts ? content?.Transcript : null });
                    }
                    calls = openedCalls;
                    optOut = await s.QuerySingleOrDefaultAsync<OptOut>(
                        "select created_at, source from sms_opt_outs where clinic_id = @C and (phone_hash = @Hash or phone = @Phone) limit 1", byCaller, ct);
                    if (WorksInbox(user)) replies = await Inbox.InboxItems.FromSenderAsync(s, vault, user.ClinicId, hash, 50, ct);
                }
                waitlist = [.. (await Waitlist.WaitlistEntries.ForPatientAsync(s, user.ClinicId, patientId, ct)).Where(e => e.Status != "removed")];
                if (waitlist.Count > 0)
                    names = await s.QueryAsync<PractitionerName>("select id, name from practitioners where clinic_id = @C", args, ct);
            }
            // The API's read of a patient writes the same row (PatientEndpoints.Get).
            await AuditLog.WriteAsync(s, user.ClinicId, "accessed", "patient", patientId.ToString(),
                new { via = "console", calls = calls.Count, transcripts = transcripts ? calls.Count(c => c.Transcript is not null) : 0, texts = replies.Count }, ct);
            await s.CommitAsync(ct);
        }

        Html notes = Html.Empty;
        if (user.Role == StaffRoles.Doctor && patient.ErasedAt is null)
        {
            // The API's handler: doctors only, decrypted, audited.
            var result = await PrivacyEndpoints.ReadClinicalNotes(user.ClinicId, patientId, http, db, vault, ct);
            notes = result.Result is Ok<IReadOnlyList<ClinicalNoteView>> { Value: { } list }
                ? Html.Of($"""
                    <section class="card" aria-labelledby="notes-h"><h2 id="notes-h">Clinical notes</h2>
                    {(list.Count == 0 ? Html.Of($"<p class=\"muted\">None.</p>") : Html.Of($"<ul>{list.Select(n => Html.Of($"<li><b>{n.Kind}</b>: {n.Text}</li>"))}</ul>"))}
                    </section>
                    """)
                : Html.Empty;
        }

        var tz = user.ClinicTimezone;
        var title = patient.ErasedAt is null ? patient.Name ?? "Patient" : "Erased patient";
        if (patient.ErasedAt is { } erased)
            return ConsoleLayout.Page(http, title, "patients", Html.Of($"""
                <h1>Erased patient</h1>
                <p class="note info" role="status">This patient's personal data was erased on {ConsoleLayout.Local(erased, tz, "d MMMM yyyy")}. Only a record that they existed remains.</p>
                <p><a href="{ConsoleRoutes.Patients}">Back to patients</a></p>
                """), status);

        var csrf = ConsoleLayout.CsrfField(http);
        var consent = optOut is null
            ? Html.Of($"<p>{ConsoleLayout.Tag("Texts allowed", "ok")} The patient has not opted out of texts.</p>")
            : Html.Of($"<p>{ConsoleLayout.Tag("Opted out", "warn")} No texts since {ConsoleLayout.Local(optOut.At, tz, "d MMM yyyy")} ({optOut.Source}).</p>");
        var callItems = calls.Select(c =>
        {
            var (outcome, kind) = ConsoleText.Outcome(c.EndedReason, c.Status, c.Booked, c.FollowedUp);
            var summary = ConsoleText.Sanitized(detector, c.Summary);
            return Html.Of($"""
                <li><p><b>{ConsoleLayout.Local(c.At, tz)}</b> {ConsoleLayout.Tag(outcome, kind)}</p>
                {(summary is null ? Html.Empty : Html.Of($"<p class=\"muted\">{summary}</p>"))}
                {(c.Transcript is null ? Html.Empty : Html.Of($"""<details><summary>Transcript</summary><pre class="transcript">{c.Transcript}</pre></details>"""))}</li>
                """);
        }).ToList();
        return ConsoleLayout.Page(http, title, "patients", Html.Of($"""
            <h1>{title}</h1>
            {ConsoleLayout.Problem(problem)}
            <div class="grid">
            <section class="card" aria-labelledby="details-h"><h2 id="details-h">Details</h2>
            <dl class="facts"><dt>Phone</dt><dd>{patient.Phone ?? "—"}</dd><dt>Email</dt><dd>{patient.Email ?? "—"}</dd><dt>Since</dt><dd>{ConsoleLayout.Local(patient.CreatedAt, tz, "d MMM yyyy")}</dd></dl>
            </section>
            <section class="card" aria-labelledby="consent-h"><h2 id="consent-h">Consent</h2>{consent}</section>
            </div>
            {notes}
            <section aria-labelledby="bk-h"><h2 id="bk-h">Bookings ({bookings.Count})</h2>
            {(bookings.Count == 0 ? Html.Of($"<p class=\"muted\">None.</p>") : Html.Of($"""
                <div class="scroll"><table><thead><tr><th scope="col">When</th><th scope="col">With</th><th scope="col">Status</th><th scope="col">How</th></tr></thead><tbody>
                {bookings.Select(b => Html.Of($"<tr><td>{ConsoleLayout.Local(b.StartsAt, tz, "ddd d MMM yyyy HH:mm")}</td><td>{b.Practitioner}</td><td>{b.Status}</td><td>{TodayPage.Source(b.Source)}</td></tr>"))}
                </tbody></table></div>
                """))}
            </section>
            <section aria-labelledby="msg-h"><h2 id="msg-h">Messages ({messages.Count})</h2>
            {(messages.Count == 0 ? Html.Of($"<p class=\"muted\">None.</p>") : Html.Of($"""
                <ul class="items">{messages.Select(m => Html.Of($"<li><p><b>{ConsoleLayout.Local(m.At, tz)}</b> {ConsoleLayout.Tag(ConsoleText.Delivery(m.Status).Text, ConsoleText.Delivery(m.Status).Kind)}</p><p>{m.Body ?? "(text no longer held)"}</p></li>"))}</ul>
                """))}
            </section>
            {(replies.Count == 0 ? Html.Empty : Html.Of($"""
                <section aria-labelledby="rp-h"><h2 id="rp-h">Texts from the patient ({replies.Count})</h2>
                <ul class="items">{replies.Select(r => Html.Of($"<li><p><b>{ConsoleLayout.Local(r.ReceivedAt, tz)}</b> {ConsoleLayout.Tag(r.Status == "handled" ? "Handled" : "Open", r.Status == "handled" ? "ok" : "info")}</p><p>{r.Text ?? "(text no longer held)"}</p></li>"))}</ul>
                </section>
                """))}
            {WaitlistSection(patientId, waitlist, names, tz, csrf, WorksInbox(user))}
            <section aria-labelledby="calls-h"><h2 id="calls-h">Calls ({calls.Count})</h2>
            {(transcripts ? Html.Empty : Html.Of($"<p class=\"muted\">Full transcripts are shown to admins and doctors.</p>"))}
            {(calls.Count == 0 ? Html.Of($"<p class=\"muted\">None.</p>") : Html.Of($"<ul class=\"items\">{callItems}</ul>"))}
            </section>
            <section class="card" aria-labelledby="gdpr-h"><h2 id="gdpr-h">Data rights</h2>
            <p>Download everything held about this patient (GDPR access), or erase their personal data (GDPR erasure). Both are recorded in the audit trail.</p>
            <form method="post" action="{ConsoleRoutes.Patients}/{patientId}/export">{csrf}<button type="submit" class="secondary">Download data export</button></form>
            <form method="post" action="{ConsoleRoutes.Patients}/{patientId}/erase" class="stack">
            {csrf}
            <div><label for="confirm">Type ERASE to erase this patient's personal data <span class="hint">This cannot be undone. Bookings stay, without the patient's details.</span></label>
            <input id="confirm" name="confirm" type="text" autocomplete="off" required maxlength="20"></div>
            <div><button type="submit" class="danger">Erase patient</button></div>
            </form>
            </section>
            """), status);
    }

    static Html WaitlistSection(Guid patientId, IReadOnlyList<Waitlist.WaitlistEntryView> entries, IReadOnlyList<PractitionerName> names, string tz, Html csrf,
        bool canRemove)
    {
        if (entries.Count == 0) return Html.Empty;
        string Window(Waitlist.WaitlistEntryView e) =>
            (e.From is { } f ? "from " + ConsoleLayout.Local(f, tz, "d MMM") + " " : "") + (e.To is { } t ? "until " + ConsoleLayout.Local(t, tz, "d MMM") + " " : "")
            + (e.PartOfDay is { } p ? "(" + p + "s)" : "");
        return Html.Of($"""
            <section aria-labelledby="wl-h"><h2 id="wl-h">Waitlist ({entries.Count})</h2>
            <ul class="items">{entries.Select(e => Html.Of($"""
                <li><p><b>{e.Procedure ?? "Any consultation"}</b> with {(e.PractitionerId is { } pid ? names.FirstOrDefault(n => n.Id == pid)?.Name ?? "a practitioner" : "anyone")} {ConsoleLayout.Tag(e.Status, e.Status is "waiting" or "offered" ? "info" : "")}</p>
                <p class="muted">{Window(e)} · until {ConsoleLayout.Local(e.ExpiresAt, tz, "d MMM yyyy")}{(e.Offer is { } o ? $" · last offered {ConsoleLayout.Local(o.StartsAt, tz, "ddd d MMM HH:mm")} ({o.Status})" : "")}</p>
                {(canRemove && e.Status is "waiting" or "offered" ? Html.Of($"""<form method="post" action="{ConsoleRoutes.Patients}/{patientId}/waitlist/{e.Id}/remove" class="actions">{csrf}<button type="submit" class="secondary">Remove from waitlist</button></form>""") : Html.Empty)}</li>
                """))}</ul>
            </section>
            """);
    }

    /// <summary>The waitlist API's removal (DELETE …/waitlist/{entryId}): admins and receptionists, audited; an open offer's hold is released.</summary>
    static async Task<IResult> RemoveFromWaitlist(Guid patientId, Guid entryId, HttpContext http, ConsoleForms forms, Db db, Vault vault, PiiDetector detector,
        Outbox outbox, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is null) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        if (!WorksInbox(user)) return await PatientPage(patientId, http, db, vault, detector, 403, "Your role does not change the waitlist.", ct);
        var removed = await db.InTransactionAsync(user.Claims, async s =>
            await s.QuerySingleOrDefaultAsync<bool>("select exists (select 1 from waitlist_entries where clinic_id = @C and id = @E and patient_id = @P)",
                new { C = user.ClinicId, E = entryId, P = patientId }, ct)
            && await Waitlist.WaitlistEntries.RemoveAsync(s, user.ClinicId, entryId, ct), ct);
        if (!removed) return await PatientPage(patientId, http, db, vault, detector, 404, "That waitlist entry is not this patient's (or is already removed).", ct);
        outbox.Signal();   // a released hold: the next entry's offer
        return TypedResults.Redirect($"{ConsoleRoutes.Patients}/{patientId}?done=done");
    }

    static ContentHttpResult NotFound(HttpContext http) => ConsoleLayout.Page(http, "Patient not found", "patients", Html.Of($"""
        <h1>Patient not found</h1>
        <p>There is no such patient in your clinic.</p>
        <p><a href="{ConsoleRoutes.Patients}">Search patients</a></p>
        """), 404);

    static async Task<IResult> Export(Guid patientId, HttpContext http, ConsoleForms forms, Db db, Vault vault, PiiDetector detector, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is null) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        var result = await PrivacyEndpoints.Export(user.ClinicId, patientId, http, db, vault, ct);
        return result.Result switch
        {
            Ok<PatientExport> { Value: { } export } => TypedResults.File(JsonSerializer.SerializeToUtf8Bytes(export, ExportJson),
                "application/json", $"patient-{patientId}.json"),
            ProblemHttpResult { StatusCode: 404 } => NotFound(http),
            ProblemHttpResult p => await PatientPage(patientId, http, db, vault, detector, p.StatusCode, p.ProblemDetails.Title, ct),
            _ => NotFound(http),
        };
    }

    static readonly JsonSerializerOptions ExportJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    static async Task<IResult> Erase(Guid patientId, HttpContext http, ConsoleForms forms, Db db, Vault vault, PiiDetector detector, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        if (form.Text("confirm", 20) != "ERASE")
            return await PatientPage(patientId, http, db, vault, detector, 400, "Nothing was erased: type ERASE (in capitals) to confirm.", ct);
        var user = ConsoleUser.Of(http);
        var result = await PatientEndpoints.Erase(user.ClinicId, patientId, http, db, vault, ct);
        return result.Result switch
        {
            NoContent => TypedResults.Redirect(ConsoleRoutes.Patients + "?done=erased"),
            ProblemHttpResult { StatusCode: 404 } => NotFound(http),
            ProblemHttpResult p => await PatientPage(patientId, http, db, vault, detector, p.StatusCode, p.ProblemDetails.Title, ct),
            _ => NotFound(http),
        };
    }
}
