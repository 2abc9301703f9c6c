using Frontdesk.Privacy;
using Frontdesk.Tenancy;

namespace Frontdesk.Review;

public sealed record ReviewAction(string Action);

public sealed record ReviewResult(string Id, string Action, string Status, Guid? NewMessageId);

/// <summary>API.md "Between calls": GET /api/clinics/{clinicId}/review and POST …/review/{id}
/// {action: resend | mark_sent | cancel}. Admins and receptionists; tenant-scoped by route and RLS.</summary>
public static class ReviewEndpoints
{
    public static IServiceCollection AddReview(this IServiceCollection services)
    {
        services.AddSingleton<OutboxMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxMonitor>());
        return services;
    }

    public static void MapReview(this IEndpointRouteBuilder app)
    {
        app.ServiceProvider.GetRequiredService<OutboxMonitor>().Register(app.ServiceProvider.GetRequiredService<HealthDetails>());
        var group = app.MapGroup("/api/clinics/{clinicId:guid}/review").WithTags("Review")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter);
        group.MapGet("", List);
        group.MapPost("/{id}", Act);
    }

    static ProblemHttpResult? Forbidden(RequestClaims claims) =>
        claims.IsService || claims.AppRole is "admin" or "receptionist" or null
            ? null
            : Problems.Problem(403, Problems.Forbidden, "Only an admin or a receptionist works the review queue");

    static async Task<Results<Ok<IReadOnlyList<ReviewItem>>, ProblemHttpResult>> List(Guid clinicId, HttpContext http, Db db, CancellationToken ct)
    {
        if (Forbidden(http.Claims()) is { } denied) return denied;
        await using var s = await db.BeginAsync(http.Claims(), ct);
        return TypedResults.Ok(await ReviewItems.ListAsync(s, clinicId, ct));
    }

    internal static async Task<Results<Ok<ReviewResult>, ProblemHttpResult>> Act(Guid clinicId, string id, ReviewAction body, HttpContext http, Db db,
        Vault vault, Outbox outbox, CancellationToken ct)
    {
        if (Forbidden(http.Claims()) is { } denied) return denied;
        if (!ReviewActions.All.Contains(body.Action))
            return Problems.Invalid("action is one of: resend, mark_sent, cancel.");
        if (id.Length > 64) return Problems.NotFoundProblem("Review item");
        await using var s = await db.BeginAsync(http.Claims(), ct);
        var outcome = await ReviewItems.ApplyAsync(s, vault, clinicId, id, body.Action, ct);
        switch (outcome)
        {
            case ReviewOutcome.Applied a:
                await s.CommitAsync(ct);
                if (a.Action == ReviewActions.Resend) outbox.Signal();
                return TypedResults.Ok(new ReviewResult(a.Id, a.Action, a.Status, a.NewMessageId));
            case ReviewOutcome.Conflict c:
                return Problems.ConflictProblem(c.Detail);
            default:
                return Problems.NotFoundProblem("Review item");
        }
    }
}
