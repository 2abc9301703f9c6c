using Frontdesk.Audit;
using Frontdesk.BookingPage;
using Frontdesk.Calendar;
using Frontdesk.Review;

using Frontdesk.Tenancy;

namespace Frontdesk.StaffConsole;

/// <summary>Something a person can do with a work item; posted as the form field <c>action</c>.</summary>
public sealed record WorkAction(string Name, string Label, bool Danger = false);

/// <summary>A text a person writes with an item's action (call notes, an answer), posted under <see cref="Name"/>.
/// <see cref="Required"/>: the actions need it; otherwise it may stay empty.</summary>
public sealed record WorkField(string Name, string Label, int MaxLength, bool Required = false, string? Hint = null);

/// <summary>One thing the receptionist could not finish. <see cref="Urgency"/> 0–100 orders the queue
/// (then newest first); <see cref="Id"/> is the provider's own opaque id (never personal data). With a
/// <see cref="Field"/>, the item's actions are the buttons of one form that carries the field.</summary>
public sealed record WorkItem(string Kind, string Id, DateTimeOffset At, int Urgency, string Title, string? Detail, string Status,
    string StatusKind, IReadOnlyList<WorkAction> Actions, WorkField? Field = null);

public abstract record WorkActionResult
{
    public sealed record Done(string Message) : WorkActionResult;
    /// <summary>No such item in this clinic (or no longer in a state the action applies to).</summary>
    public sealed record NotFound : WorkActionResult;
    public sealed record Refused(int Status, string Message) : WorkActionResult;
}

/// <summary>
/// One kind of work-queue item. Each kind is one provider registered in <see cref="ConsoleEndpoints.AddConsole"/>;
/// the page lists every provider's items and routes <c>POST /console/queue/{Kind}/{id}</c> to <see cref="ActAsync"/>.
/// Both run with the signed-in staff member's claims (RLS applies), and actions are audited by the provider.
/// </summary>
public interface IWorkQueueProvider
{
    /// <summary>Route segment and id prefix: lower-case letters and dashes.</summary>
    string Kind { get; }

    Task<IReadOnlyList<WorkItem>> ListAsync(DbSession s, ConsoleUser user, CancellationToken ct);

    Task<WorkActionResult> ActAsync(HttpContext http, ConsoleUser user, string id, string action, IFormCollection form, CancellationToken ct);
}

public static class WorkQueuePage
{
    public static void Map(RouteGroupBuilder console)
    {
        console.MapGet("/queue", Show);
        console.MapPost("/queue/{kind}/{id}", Act);
    }

    static async Task<ContentHttpResult> Show(HttpContext http, Db db, IEnumerable<IWorkQueueProvider> providers, CancellationToken ct) =>
        await Render(http, db, providers, 200, null, ct);

    /// <summary>A refused item's form, its text shown again in its field.</summary>
    sealed record Typed(string Kind, string Id, IFormCollection Form);

    static async Task<ContentHttpResult> Render(HttpContext http, Db db, IEnumerable<IWorkQueueProvider> providers, int status, string? problem, CancellationToken ct,
        Typed? typed = null)
    {
        var user = ConsoleUser.Of(http);
        var items = new List<WorkItem>();
        await using (var s = await db.BeginAsync(user.Claims, ct))
        {
            foreach (var p in providers) items.AddRange(await p.ListAsync(s, user, ct));
            // Callers' numbers and texts were just opened for this reader: audited with the ids shown (opaque, never the values),
            // as the callback and inbox APIs audit their listings.
            await ConsoleText.ViewedAsync(s, user, "queue", null, null, new
            {
                items = items.Count,
                shown = items.GroupBy(i => i.Kind).ToDictionary(g => g.Key, g => g.Select(i => i.Id).ToArray()),
            }, ct);
            await s.CommitAsync(ct);
        }
        var csrf = ConsoleLayout.CsrfField(http);
        var list = items.OrderByDescending(i => i.Urgency).ThenByDescending(i => i.At).Select(i => Html.Of($"""
            <li>
            <p><b>{i.Title}</b> {ConsoleLayout.Tag(i.Status, i.StatusKind)}</p>
            <p class="muted">{ConsoleLayout.Local(i.At, user.ClinicTimezone)}{(i.Detail is null ? Html.Empty : Html.Of($" · {i.Detail}"))}</p>
            {(i.Actions.Count == 0 ? Html.Empty : i.Field is { } field ? FieldForm(i, field, csrf, typed is { } t && t.Kind == i.Kind && t.Id == i.Id ? t.Form.Raw(field.Name) : "") : Html.Of($"""
                <div class="actions">{i.Actions.Select(a => Html.Of($"""
                    <form method="post" action="{ConsoleRoutes.Queue}/{i.Kind}/{i.Id}" class="inline">{csrf}<input type="hidden" name="action" value="{a.Name}"><button type="submit"{ButtonClass(a)}>{a.Label}</button></form>
                    """))}</div>
                """))}
            </li>
            """)).ToList();
        return ConsoleLayout.Page(http, "Work queue", "queue", Html.Of($"""
            <h1>Work queue</h1>
            <p class="muted">What the receptionist could not finish, most urgent first.</p>
            {ConsoleLayout.Problem(problem)}
            {(list.Count == 0 ? Html.Of($"""<p class="note ok" role="status">Nothing waiting. Well done.</p>""") : Html.Of($"""<ul class="items">{list}</ul>"""))}
            """), status);
    }

    static Html ButtonClass(WorkAction a) => a.Danger ? Html.Constant(" class=\"danger\"") : Html.Constant(" class=\"secondary\"");

    /// <summary>One form: the labelled text field, then each action as a submit button naming itself.</summary>
    static Html FieldForm(WorkItem i, WorkField f, Html csrf, string text)
    {
        var id = $"f-{i.Kind}-{i.Id}";
        return Html.Of($"""
            <form method="post" action="{ConsoleRoutes.Queue}/{i.Kind}/{i.Id}" class="stack">{csrf}
            <div><label for="{id}">{f.Label}{(f.Hint is null ? Html.Empty : Html.Of($" <span class=\"hint\">{f.Hint}</span>"))}</label><textarea id="{id}" name="{f.Name}" maxlength="{f.MaxLength}" rows="3"{(f.Required ? Html.Constant(" required") : Html.Empty)}>{text}</textarea></div>
            <div class="actions">{i.Actions.Select(a => Html.Of($"""<button type="submit" name="action" value="{a.Name}"{ButtonClass(a)}>{a.Label}</button>"""))}</div>
            </form>
            """);
    }

    static async Task<IResult> Act(string kind, string id, HttpContext http, ConsoleForms forms, Db db, IEnumerable<IWorkQueueProvider> providers, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var all = providers.ToList();
        if (all.FirstOrDefault(p => p.Kind == kind) is not { } provider || id.Length > 100)
            return await Render(http, db, all, 404, "That item is not in your clinic's queue (any more).", ct);
        var user = ConsoleUser.Of(http);
        return await provider.ActAsync(http, user, id, form.Raw("action"), form, ct) switch
        {
            WorkActionResult.Done => TypedResults.Redirect(ConsoleRoutes.Queue + "?done=done"),
            WorkActionResult.Refused r => await Render(http, db, all, r.Status, r.Message, ct, new Typed(kind, id, form)),
            _ => await Render(http, db, all, 404, "That item is not in your clinic's queue (any more).", ct),
        };
    }
}

/// <summary>
/// Messages and jobs the outbox could not finish (issue 15's review queue, <see cref="ReviewItems"/>):
/// SMS whose outcome is unknown (never resent blindly), that failed or went undelivered, and failed jobs
/// of other kinds. Listed and acted on through the review API's own code — its role rule (admin or
/// receptionist), its state checks and its audit rows; resend / mark sent / cancel.
/// </summary>
public sealed class ReviewQueueProvider : IWorkQueueProvider
{
    public string Kind => "review";

    static readonly Dictionary<string, string> Labels = new(StringComparer.Ordinal)
    {
        [ReviewActions.Resend] = "Send again",
        [ReviewActions.MarkSent] = "Mark as sent",
        [ReviewActions.Cancel] = "Cancel",
    };

    sealed record Procedure(Guid Id, string Name);

    public async Task<IReadOnlyList<WorkItem>> ListAsync(DbSession s, ConsoleUser user, CancellationToken ct)
    {
        // The review API's rule (admins and receptionists work the queue), from the central role checks.
        if (!user.Claims.Has(AppRoles.Admin | AppRoles.Receptionist)) return [];
        var items = await ReviewItems.ListAsync(s, user.ClinicId, ct);
        var followups = items.Where(i => i.FollowupId is not null).Select(i => i.FollowupId!.Value).Distinct().ToArray();
        var procedures = followups.Length == 0 ? [] : await s.QueryAsync<Procedure>(
            "select id, procedure from lead_followups where clinic_id = @C and id = any(@Ids)", new { C = user.ClinicId, Ids = followups }, ct);
        return [.. items.Select(i =>
        {
            var procedure = procedures.FirstOrDefault(p => p.Id == i.FollowupId)?.Name;
            var review = i.Status == "review";
            var title = i.Kind == "sms"
                ? $"{(i.Purpose is "followup" or null ? "Follow-up text" : "Text message")}{(procedure is null ? "" : " about " + procedure)}"
                : $"Background job {i.Kind}";
            var detail = review ? "Twilio may or may not have sent it: check before sending again." : Reason(i.Reason);
            return new WorkItem(Kind, i.Id, i.UpdatedAt, review ? 80 : 50, title, detail,
                review ? "Needs review" : i.Status == "undelivered" ? "Not delivered" : "Failed", review ? "warn" : "bad",
                [.. i.Actions.Select(a => new WorkAction(a, Labels.GetValueOrDefault(a, a), a == ReviewActions.Cancel))]);
        })];
    }

    static string Reason(string? error) => error is { Length: > 0 } e ? "Not sent: " + (e.Length > 160 ? e[..160] + "…" : e) : "Not sent.";

    public async Task<WorkActionResult> ActAsync(HttpContext http, ConsoleUser user, string id, string action, IFormCollection form, CancellationToken ct)
    {
        var services = http.RequestServices;
        var result = await ReviewEndpoints.Act(user.ClinicId, id, new ReviewAction(action), http, services.GetRequiredService<Db>(),
            services.GetRequiredService<Frontdesk.Privacy.Vault>(), services.GetRequiredService<Outbox>(), ct);
        return result.Result switch
        {
            Ok<ReviewResult> => new WorkActionResult.Done("Done."),
            ProblemHttpResult { StatusCode: 404 } => new WorkActionResult.NotFound(),
            ProblemHttpResult p => new WorkActionResult.Refused(p.StatusCode, p.ProblemDetails.Detail ?? p.ProblemDetails.Title ?? "Refused."),
            _ => new WorkActionResult.NotFound(),
        };
    }
}

/// <summary>Bookings whose Google Calendar event failed permanently; "Try again" re-arms the booking's
/// calendar job exactly as a booking change does (calendar_enqueue).</summary>
public sealed class CalendarFailuresProvider(CalendarSignal signal) : IWorkQueueProvider
{
    public string Kind => "calendar";

    sealed record Row(Guid BookingId, DateTimeOffset At, DateTimeOffset StartsAt, string Practitioner, string? Error, string Status);

    public async Task<IReadOnlyList<WorkItem>> ListAsync(DbSession s, ConsoleUser user, CancellationToken ct)
    {
        var rows = await s.QueryAsync<Row>("""
            select b.id, coalesce(j.updated_at, b.updated_at), b.starts_at, pr.name, b.calendar_error, b.status
            from bookings b
            join practitioners pr on pr.clinic_id = b.clinic_id and pr.id = b.practitioner_id
            left join calendar_jobs j on j.clinic_id = b.clinic_id and j.booking_id = b.id
            where b.clinic_id = @C and b.calendar_status = 'failed'
            order by 2 desc
            limit 100
            """, new { C = user.ClinicId }, ct);
        return [.. rows.Select(r => new WorkItem(Kind, r.BookingId.ToString(), r.At, r.StartsAt > DateTimeOffset.UtcNow ? 60 : 20,
            $"Calendar not updated: {(r.Status == "cancelled" ? "cancelled " : "")}booking with {r.Practitioner} at {ConsoleLayout.Local(r.StartsAt, user.ClinicTimezone, "ddd d MMM HH:mm")}",
            r.Error is { Length: > 0 } e ? (e.Length > 160 ? e[..160] + "…" : e) : null, "Calendar failed", "bad",
            [new WorkAction("retry", "Try again")]))];
    }

    public async Task<WorkActionResult> ActAsync(HttpContext http, ConsoleUser user, string id, string action, IFormCollection form, CancellationToken ct)
    {
        if (action != "retry") return new WorkActionResult.Refused(400, "Unknown action.");
        if (!Guid.TryParse(id, out var bookingId)) return new WorkActionResult.NotFound();
        var db = http.RequestServices.GetRequiredService<Db>();
        var retried = await db.InTransactionAsync(user.Claims, async s =>
        {
            // The same re-arm as calendar_enqueue: a new version, attempts from zero, due now.
            var n = await s.ExecuteAsync("""
                with b as (
                  update bookings set calendar_status = 'pending', calendar_error = null
                  where clinic_id = @C and id = @B and calendar_status = 'failed'
                    and exists (select 1 from calendar_jobs x where x.clinic_id = @C and x.booking_id = @B)
                  returning id)
                update calendar_jobs j set version = j.version + 1, attempts = 0, next_attempt_at = now(), done_at = null,
                       last_error = null, updated_at = now()
                from b where j.clinic_id = @C and j.booking_id = b.id
                """, new { C = user.ClinicId, B = bookingId }, ct);
            if (n == 1) await AuditLog.WriteAsync(s, user.ClinicId, "calendar_retry", "booking", bookingId.ToString(), null, ct);
            return n == 1;
        }, ct);
        if (!retried) return new WorkActionResult.NotFound();
        signal.Set();
        return new WorkActionResult.Done("Queued to try again now.");
    }
}
