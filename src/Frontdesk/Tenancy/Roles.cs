using Microsoft.AspNetCore.Authorization;

namespace Frontdesk.Tenancy;

/// <summary>A clinic's staff roles, as a set so one check can allow several.</summary>
[Flags]
public enum AppRoles
{
    /// <summary>No staff role: the token's app_role was missing or unknown. Such a caller may do
    /// only what every member may (read, book); never what a role check guards.</summary>
    None = 0,
    Admin = 1,
    Receptionist = 2,
    Doctor = 4,
}

/// <summary>
/// Every role check in one place (issue 14: fail closed). A token's <c>app_role</c> is one of the
/// staff roles of API.md or it is no role at all: a missing, empty, misspelt or unknown value is the
/// least privileged caller, never an admin. service_role administers every clinic and passes a
/// check unless the check says otherwise (reading clinical notes is for doctors only).
/// <code>
/// if (claims.Deny(AppRoles.Admin, "Only a clinic admin may …") is { } denied) return denied;   // in a handler
/// group.MapPut("/x", X).RequireRoles(AppRoles.Admin | AppRoles.Receptionist);                 // before the body is read
/// </code>
/// </summary>
public static class Roles
{
    public const string Admin = "admin";
    public const string Receptionist = "receptionist";
    public const string Doctor = "doctor";

    /// <summary>Roles the service gives its own callers; a token cannot claim them.</summary>
    public const string Agent = "agent", Patient = "patient";

    /// <summary>The app_role a token may carry, as it goes to the database; null for anything else
    /// (exact, lower-case spelling: "Admin" is not admin).</summary>
    public static string? FromToken(string? appRole) => appRole switch
    {
        Admin or Receptionist or Doctor => appRole,
        _ => null,
    };

    public static AppRoles Of(RequestClaims claims) => claims.AppRole switch
    {
        Admin => AppRoles.Admin,
        Receptionist => AppRoles.Receptionist,
        Doctor => AppRoles.Doctor,
        _ => AppRoles.None,
    };

    /// <summary>True when the caller holds one of <paramref name="allowed"/> (or is service_role and
    /// <paramref name="service"/> allows it).</summary>
    public static bool Has(this RequestClaims claims, AppRoles allowed, bool service = true) =>
        (service && claims.IsService) || (Of(claims) & allowed) != AppRoles.None;

    /// <summary>Null when the caller may; otherwise the 403 problem to return.</summary>
    public static ProblemHttpResult? Deny(this RequestClaims claims, AppRoles allowed, string title, bool service = true) =>
        claims.Has(allowed, service) ? null : Problems.Problem(403, Problems.Forbidden, title);

    /// <summary>An authorization policy for endpoints whose role is known from the route alone:
    /// checked before the body is read, answered 403 <c>forbidden</c>.</summary>
    public static TBuilder RequireRoles<TBuilder>(this TBuilder builder, AppRoles allowed, bool service = true)
        where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(new AuthorizationPolicyBuilder()
            .RequireAssertion(ctx => Auth.ClaimsOf(ctx.User) is { } c && c.Has(allowed, service))
            .Build());
}
