using Frontdesk.Audit;
using Frontdesk.Privacy;
using Frontdesk.Tenancy;

namespace Frontdesk.Inbox;

/// <summary>PATCH body: <c>handled</c> or <c>open</c> (to reopen).</summary>
public sealed record UpdateInboxItem(string Status);

/// <summary>API.md "Between calls": GET /api/clinics/{clinicId}/inbox?status=open|handled|all&amp;limit= and
/// PATCH /api/clinics/{clinicId}/inbox/{id} {status}. Admins and receptionists (and service_role);
/// every item's text is decrypted for them, so the role is checked before anything is read.</summary>
public static class InboxEndpoints
{
    public static IServiceCollection AddInbox(this IServiceCollection services) =>
        services.AddSingleton<InboundReplies>()
            // The staff console's work queue (issue 19): replies that need a person.
            .AddSingleton<StaffConsole.IWorkQueueProvider, InboxQueueProvider>();

    public static void MapInbox(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/clinics/{clinicId:guid}/inbox").WithTags("Inbox")
            .RequireAuthorization(Auth.Policies.Member)
            .RequireRoles(AppRoles.Admin | AppRoles.Receptionist);
        group.MapGet("", List).ProducesProblem(400).ProducesProblem(403);
        group.MapPatch("/{id:guid}", Update).ProducesProblem(400).ProducesProblem(403).ProducesProblem(404);
    }

    static async Task<Results<Ok<IReadOnlyList<InboxItem>>, ProblemHttpResult>> List(Guid clinicId, string? status, int? limit, HttpContext http,
        Db db, Vault vault, CancellationToken ct)
    {
        status ??= InboxStatus.Open;
        if (status is not (InboxStatus.Open or InboxStatus.Handled or InboxStatus.All))
            return Problems.Invalid("status is open, handled or all.");
        if (limit is < 1 or > InboxItems.MaxLimit) return Problems.Invalid($"limit is 1–{InboxItems.MaxLimit}.");
        await using var s = await db.BeginAsync(http.Claims(), ct);
        var items = await InboxItems.ListAsync(s, vault, clinicId, status, limit ?? 100, ct);
        // Senders' numbers and texts were just decrypted for this reader: that is audited, like a patient read.
        await AuditLog.WriteAsync(s, clinicId, "accessed", "inbox", null, new { status, items = items.Select(i => i.Id) }, ct);
        await s.CommitAsync(ct);
        return TypedResults.Ok(items);
    }

    static async Task<Results<Ok<InboxItem>, ProblemHttpResult>> Update(Guid clinicId, Guid id, UpdateInboxItem body, HttpContext http, Db db,
        Vault vault, CancellationToken ct)
    {
        if (body.Status is not (InboxStatus.Open or InboxStatus.Handled)) return Problems.Invalid("status is handled or open.");
        await using var s = await db.BeginAsync(http.Claims(), ct);
        if (await InboxItems.SetStatusAsync(s, vault, clinicId, id, body.Status, ct) is not { } item) return Problems.NotFoundProblem("Inbox item");
        await s.CommitAsync(ct);
        return TypedResults.Ok(item);
    }
}
