using Frontdesk.Audit;

namespace Frontdesk.Tenancy;

/// <summary>
/// The API half of tenancy (ARCHITECTURE decision 3a): a clinic in the route or body other than the
/// token's org_id is answered 403 and recorded as cross_tenant_denied in the caller's own trail.
/// The database half (RLS) stands on its own and is tested without this.
/// </summary>
public static partial class ClinicScope
{
    /// <summary>Endpoint filter for groups whose route has {clinicId}.</summary>
    public static async ValueTask<object?> RouteFilter(EndpointFilterInvocationContext ctx, EndpointFilterDelegate next)
    {
        var http = ctx.HttpContext;
        if (http.Request.RouteValues.TryGetValue("clinicId", out var raw) && Guid.TryParse(raw?.ToString(), out var target)
            && await DenyIfForeignAsync(http, target, http.RequestAborted) is { } denied)
            return denied;
        return await next(ctx);
    }

    /// <summary>Null when the caller may act for <paramref name="target"/>; otherwise the 403 to return
    /// (the denial is already audited).</summary>
    public static async Task<ProblemHttpResult?> DenyIfForeignAsync(HttpContext http, Guid target, CancellationToken ct)
    {
        var claims = http.Claims();
        if (claims.IsService || claims.ClinicId == target) return null;

        var db = http.RequestServices.GetRequiredService<Db>();
        // Written with the caller's own claims: the row lands in the caller's clinic, which RLS allows.
        await using (var session = await db.BeginAsync(claims, CancellationToken.None))
        {
            await AuditLog.WriteAsync(session, claims.ClinicId!.Value, "cross_tenant_denied", "clinic", target.ToString(),
                new { method = http.Request.Method, route = RouteTemplate(http), targetClinic = target }, CancellationToken.None);
            await session.CommitAsync(CancellationToken.None);
        }
        Log.CrossTenantDenied(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Frontdesk.Tenancy"),
            claims.ClinicId.Value, target, http.Request.Method, RouteTemplate(http));
        return Problems.Problem(403, Problems.CrossTenant, "This clinic is not yours",
            "The token's organisation does not match the clinic in the request.");
    }

    // The template, not the path: the path carries ids of the other clinic's records.
    static string RouteTemplate(HttpContext http) =>
        (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? http.Request.Path.Value ?? "";

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Cross-tenant request denied: clinic {CallerClinic} asked for {TargetClinic} via {Method} {Route}")]
        public static partial void CrossTenantDenied(ILogger logger, Guid callerClinic, Guid targetClinic, string method, string route);
    }
}
