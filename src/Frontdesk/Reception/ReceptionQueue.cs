using Frontdesk.StaffConsole;
using Frontdesk.Tenancy;

namespace Frontdesk.Reception;

/// <summary>
/// The staff console's work queue (issue 19) gets the callers to ring back: open callbacks (urgent
/// ones first) and those tried without an answer, each with "Called back" and "No answer" — the same
/// rules, state checks and audit rows as PATCH /api/clinics/{clinicId}/callbacks/{id}, through
/// <see cref="Callbacks.UpdateAsync"/>. For the staff roles the API allows (admin, receptionist, doctor).
/// </summary>
public sealed class CallbackQueueProvider(Callbacks callbacks) : IWorkQueueProvider
{
    public string Kind => "callbacks";

    const AppRoles Staff = AppRoles.Admin | AppRoles.Receptionist | AppRoles.Doctor;

    /// <summary>Call notes, sealed with the callback (PATCH …/callbacks/{id}'s note); empty keeps the previous note.</summary>
    static readonly WorkField NoteField = new("note", "Call notes", Callbacks.MaxNoteChars, Hint: "Optional. Replaces the previous note.");

    public async Task<IReadOnlyList<WorkItem>> ListAsync(DbSession s, ConsoleUser user, CancellationToken ct)
    {
        if (!user.Claims.Has(Staff)) return [];
        var open = await callbacks.ListAsync(s, user.ClinicId, Callbacks.Open, ct);
        var retry = await callbacks.ListAsync(s, user.ClinicId, Callbacks.NoAnswer, ct);
        return [.. open.Concat(retry).Select(c =>
        {
            var urgent = c.Priority == "urgent";
            var details = new List<string> { c.Reason };
            if (c.PreferredTime is { } when) details.Add("asked for: " + when);
            if (c.Note is { } note) details.Add("note: " + note);
            return new WorkItem(Kind, c.Id.ToString(), c.UpdatedAt, urgent ? 95 : c.Status == Callbacks.Open ? 70 : 55,
                $"Call back {c.Phone ?? "(number unreadable)"}", string.Join(" · ", details),
                urgent ? "Urgent" : c.Status == Callbacks.NoAnswer ? $"No answer ({c.Attempts})" : "Call back",
                urgent ? "bad" : c.Status == Callbacks.NoAnswer ? "warn" : "info",
                [new WorkAction(Callbacks.Done, "Called back"), new WorkAction(Callbacks.NoAnswer, "No answer")], NoteField);
        })];
    }

    public async Task<WorkActionResult> ActAsync(HttpContext http, ConsoleUser user, string id, string action, IFormCollection form, CancellationToken ct)
    {
        if (!user.Claims.Has(Staff)) return new WorkActionResult.Refused(403, "Your role does not work the callback list.");
        if (action is not (Callbacks.Done or Callbacks.NoAnswer)) return new WorkActionResult.Refused(400, "Unknown action.");
        if (!Guid.TryParse(id, out var callbackId)) return new WorkActionResult.NotFound();
        // The API's rule for a note (PATCH …/callbacks/{id}): at most MaxNoteChars, no control characters.
        var note = form.Raw("note").Trim();
        if (note.Length > Callbacks.MaxNoteChars || ReceptionSettingsParser.HasControl(note))
            return new WorkActionResult.Refused(400, $"Call notes are text of at most {Callbacks.MaxNoteChars} characters.");
        var db = http.RequestServices.GetRequiredService<Db>();
        await using var s = await db.BeginAsync(user.Claims, ct);
        switch (await callbacks.UpdateAsync(s, user.ClinicId, callbackId, action, note.Length == 0 ? null : note, ct))
        {
            case CallbackChange.Updated:
                await s.CommitAsync(ct);
                return new WorkActionResult.Done(action == Callbacks.Done ? "Marked as called back." : "Noted: no answer. It stays on the list.");
            case CallbackChange.Conflict c:
                return new WorkActionResult.Refused(409, c.Detail);
            default:
                return new WorkActionResult.NotFound();
        }
    }
}

/// <summary>
/// The questions callers asked that the knowledge base could not answer (open knowledge gaps), most
/// asked first. Answering needs the answer's text (action <c>answer</c> with a form field <c>answer</c>,
/// admins only: it changes the knowledge base), the same path as POST …/knowledge/gaps/{id}/answer.
/// </summary>
public sealed class KnowledgeGapQueueProvider : IWorkQueueProvider
{
    public string Kind => "gaps";

    static readonly WorkField AnswerField = new("answer", "Answer", KnowledgeGaps.MaxAnswerChars, Required: true,
        Hint: "Becomes a knowledge document: the next caller who asks hears it.");

    public async Task<IReadOnlyList<WorkItem>> ListAsync(DbSession s, ConsoleUser user, CancellationToken ct)
    {
        if (!user.Claims.Has(AppRoles.Admin | AppRoles.Receptionist | AppRoles.Doctor)) return [];
        var gaps = await KnowledgeGaps.ListAsync(s, user.ClinicId, KnowledgeGaps.Open, ct);
        return [.. gaps.Select(g => new WorkItem(Kind, g.Id.ToString(), g.LastAskedAt, Math.Min(30 + 5 * g.Count, 60),
            $"Callers asked: “{g.Question}”",
            $"Not in the knowledge base · asked {g.Count} time{(g.Count == 1 ? "" : "s")}, first {ConsoleLayout.Local(g.FirstAskedAt, user.ClinicTimezone)}",
            "Unanswered", "warn",
            // Answering changes the knowledge base: admins only, as POST …/knowledge/gaps/{id}/answer.
            user.Claims.Has(AppRoles.Admin) ? [new WorkAction("answer", "Answer")] : [],
            user.Claims.Has(AppRoles.Admin) ? AnswerField : null))];
    }

    public async Task<WorkActionResult> ActAsync(HttpContext http, ConsoleUser user, string id, string action, IFormCollection form, CancellationToken ct)
    {
        if (!user.Claims.Has(AppRoles.Admin)) return new WorkActionResult.Refused(403, "Only a clinic admin may change the knowledge base.");
        if (action != "answer") return new WorkActionResult.Refused(400, "Unknown action.");
        if (!Guid.TryParse(id, out var gapId)) return new WorkActionResult.NotFound();
        var answer = form.Raw("answer");
        if (string.IsNullOrWhiteSpace(answer) || answer.Length > KnowledgeGaps.MaxAnswerChars || ReceptionSettingsParser.HasControl(answer))
            return new WorkActionResult.Refused(400, $"Write the answer (1 to {KnowledgeGaps.MaxAnswerChars} characters).");
        var db = http.RequestServices.GetRequiredService<Db>();
        await using var s = await db.BeginAsync(user.Claims, ct);
        if (await KnowledgeGaps.AnswerAsync(s, user.ClinicId, gapId, answer, ct) is not GapAnswer.Answered answered) return new WorkActionResult.NotFound();
        await s.CommitAsync(ct);
        if (answered.Gap.DocumentId is { } doc)
            await http.RequestServices.GetRequiredService<Knowledge.KnowledgeEmbeddings>().StoreAsync(db, user.Claims, user.ClinicId, doc, ct);
        return new WorkActionResult.Done("Answered: the next caller who asks hears it.");
    }
}
