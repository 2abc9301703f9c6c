using Frontdesk.Privacy;
using Frontdesk.StaffConsole;
using Frontdesk.Tenancy;

namespace Frontdesk.Inbox;

/// <summary>
/// The staff console's work queue (issue 19) gets the patients' SMS replies that need a person (the
/// inbox, oldest first): who wrote, what they wrote and the booking it is about, with "Mark handled" —
/// the same code, state change and audit row as PATCH /api/clinics/{clinicId}/inbox/{id}
/// (<see cref="InboxItems.SetStatusAsync"/>). For the roles the inbox API allows (admin, receptionist);
/// the texts are decrypted only for them.
/// </summary>
public sealed class InboxQueueProvider(Vault vault) : IWorkQueueProvider
{
    public string Kind => "inbox";

    const AppRoles Readers = AppRoles.Admin | AppRoles.Receptionist;
    const int Shown = 100;

    public async Task<IReadOnlyList<WorkItem>> ListAsync(DbSession s, ConsoleUser user, CancellationToken ct)
    {
        if (!user.Claims.Has(Readers)) return [];
        var items = await InboxItems.ListAsync(s, vault, user.ClinicId, InboxStatus.Open, Shown, ct);
        return [.. items.Select(i =>
        {
            var who = i.Booking?.PatientName is { Length: > 0 } name ? name : i.From ?? "a patient";
            var details = new List<string> { i.Text is { } text ? $"“{text}”" : "(the text is no longer kept)" };
            if (i.Booking is { } b)
                details.Add($"about the {(b.Status == "cancelled" ? "cancelled " : "")}booking with {b.Practitioner} on {ConsoleLayout.Local(b.StartsAt, user.ClinicTimezone, "ddd d MMM HH:mm")}");
            return new WorkItem(Kind, i.Id.ToString(), i.ReceivedAt, 65, $"Text from {who}", string.Join(" · ", details), "Reply", "info",
                [new WorkAction(InboxStatus.Handled, "Mark handled")]);
        })];
    }

    public async Task<WorkActionResult> ActAsync(HttpContext http, ConsoleUser user, string id, string action, IFormCollection form, CancellationToken ct)
    {
        if (!user.Claims.Has(Readers)) return new WorkActionResult.Refused(403, "Your role does not work the inbox.");
        if (action != InboxStatus.Handled) return new WorkActionResult.Refused(400, "Unknown action.");
        if (!Guid.TryParse(id, out var itemId)) return new WorkActionResult.NotFound();
        var db = http.RequestServices.GetRequiredService<Db>();
        await using var s = await db.BeginAsync(user.Claims, ct);
        if (await InboxItems.SetStatusAsync(s, vault, user.ClinicId, itemId, InboxStatus.Handled, ct) is null) return new WorkActionResult.NotFound();
        await s.CommitAsync(ct);
        return new WorkActionResult.Done("Marked handled.");
    }
}
