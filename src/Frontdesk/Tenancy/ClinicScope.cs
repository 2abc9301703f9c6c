using Frontdesk.Audit;

namespace Frontdesk.Tenancy;

/// <summary>
/// The API half of tenancy (ARCHITECTURE decision 3a): a clinic in the route or body other than the
/// token's org_id is answered 403 and recorded as cross_tenant_denied in the caller's own trail.
/// The database half (RLS) stands on its own and is tested without this.
/// </summary>
public static partial class ClinicScope
{
    /// <summary>
    /// The check for every endpoint, before authorization, body binding and validation (issue 14):
    /// a clinic named in the route (<c>{clinicId}</c>), the query (<c>?clinicId=</c>) or the JSON body
    /// (a top-level <c>clinicId</c>, on endpoints whose request type declares <c>ClinicId</c>) that is
    /// not the token's answers 403 <c>cross-tenant</c>, audited — whatever else is wrong with the
    /// request. An empty or unreadable body names no clinic and goes on to the ordinary 400.
    /// </summary>
    public static void UseClinicScope(this WebApplication app) =>
        app.Use(async (http, next) =>
        {
            if (http.GetEndpoint() is { } endpoint && Auth.ClaimsOf(http.User) is { IsService: false, ClinicId: { } own }
                && await ForeignClinicAsync(http, endpoint, own) is { } target
                && await DenyIfForeignAsync(http, target, http.RequestAborted) is { } denied)
            {
                await denied.ExecuteAsync(http);
                return;
            }
            await next(http);
        });

    static async Task<Guid?> ForeignClinicAsync(HttpContext http, Endpoint endpoint, Guid own)
    {
        if (http.Request.RouteValues.TryGetValue("clinicId", out var raw) && Guid.TryParse(raw?.ToString(), out var route) && route != own)
            return route;
        foreach (var value in http.Request.Query["clinicId"])
            if (Guid.TryParse(value, out var query) && query != own)
                return query;
        return NamesClinicInBody(endpoint) ? await BodyClinicAsync(http, own) : null;
    }

    static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, bool> BodyTypes = new();

    static bool NamesClinicInBody(Endpoint endpoint) =>
        endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>()?.RequestType is { } type
        && BodyTypes.GetOrAdd(type, t => t.GetProperty("ClinicId") is not null);

    /// <summary>A foreign clinic in a top-level clinicId member (any spelling the binder would accept,
    /// any of several), or null. The body stays readable for the binder.</summary>
    static async Task<Guid?> BodyClinicAsync(HttpContext http, Guid own)
    {
        http.Request.EnableBuffering();
        try
        {
            using var doc = await System.Text.Json.JsonDocument.ParseAsync(http.Request.Body, default, http.RequestAborted);
            if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object) return null;
            foreach (var member in doc.RootElement.EnumerateObject())
                if (NamedClinic(member) is { } named && named != own)
                    return named;
            return null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;   // not JSON: names no clinic; the binder answers 400
        }
        finally
        {
            http.Request.Body.Position = 0;
        }
    }

    /// <summary>The clinic a clinicId member names; null for any other member, and for one that is not
    /// valid UTF-8 (the parser does not check; transcoding throws), which the binder refuses too.</summary>
    static Guid? NamedClinic(System.Text.Json.JsonProperty member)
    {
        try
        {
            return string.Equals(member.Name, "clinicId", StringComparison.OrdinalIgnoreCase)
                   && member.Value.ValueKind == System.Text.Json.JsonValueKind.String
                   && Guid.TryParse(member.Value.GetString(), out var named) ? named : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Endpoint filter for groups whose route has {clinicId}: a second check behind
    /// UseClinicScope (which has already answered any mismatch).</summary>
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
        // One round trip: a refusal writes nothing else.
        await AuditLog.WriteOnceAsync(db, claims, claims.ClinicId!.Value, "cross_tenant_denied", "clinic", target.ToString(),
            new { method = http.Request.Method, route = RouteTemplate(http), targetClinic = target }, CancellationToken.None);
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
