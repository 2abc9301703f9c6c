using System.IdentityModel.Tokens.Jwt;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Frontdesk.Tenancy;

/// <summary>HS256 bearer tokens with Supabase's claim names (API.md "Authentication").</summary>
public static class Auth
{
    public static class Policies
    {
        public const string ServiceRole = "service_role";
        public const string Member = "member";
    }

    public static IServiceCollection AddFrontdeskAuth(this IServiceCollection services)
    {
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme)
            .AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                    ValidateIssuer = false,
                    ValidateAudience = false,
                    ValidateLifetime = true,
                    RequireExpirationTime = true,
                    ClockSkew = TimeSpan.FromSeconds(30),
                    RoleClaimType = "role",
                    NameClaimType = "sub",
                };
                o.Events = new JwtBearerEvents
                {
                    OnTokenValidated = ctx =>
                    {
                        if (ctx.Principal is null || ClaimsOf(ctx.Principal) is null)
                            ctx.Fail("The token lacks a valid role, or org_id for role authenticated.");
                        return Task.CompletedTask;
                    },
                    // 401 as problem+json, with the reason but no token material.
                    OnChallenge = async ctx =>
                    {
                        ctx.HandleResponse();
                        ctx.Response.StatusCode = 401;
                        ctx.Response.Headers.WWWAuthenticate = "Bearer";
                        await TypedResults.Problem(statusCode: 401, type: Problems.Unauthorized,
                                title: "Authentication required",
                                detail: ctx.AuthenticateFailure is null ? "A bearer token is required." : "The bearer token is not valid or has expired.")
                            .ExecuteAsync(ctx.HttpContext);
                    },
                    OnForbidden = async ctx =>
                    {
                        ctx.Response.StatusCode = 403;
                        await TypedResults.Problem(statusCode: 403, type: Problems.Forbidden, title: "Not allowed for this role")
                            .ExecuteAsync(ctx.HttpContext);
                    },
                };
            });
        services.AddOptions<JwtOptions>()
            .Configure<IConfiguration>(JwtOptions.Bind)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        // After AddJwtBearer, which replaces TokenValidationParameters: the key comes from configuration
        // (or the development secret file), resolved once when the options are first built.
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<DevSecrets, IOptions<JwtOptions>, IHostEnvironment>((o, secrets, jwt, env) =>
            {
                var p = o.TokenValidationParameters;
                p.IssuerSigningKey = new SymmetricSecurityKey(secrets.JwtSecret());
                // Issuer when configured; audience by default outside Development (JwtOptions).
                p.ValidateIssuer = jwt.Value.Issuers.Count > 0;
                p.ValidIssuers = jwt.Value.Issuers;
                var audiences = jwt.Value.Audiences(env.IsDevelopment());
                p.ValidateAudience = audiences is not null;
                p.ValidAudiences = audiences;
            });
        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.ServiceRole, p => p.RequireClaim("role", RequestClaims.ServiceRole))
            .AddPolicy(Policies.Member, p => p.RequireAssertion(c => ClaimsOf(c.User) is not null));
        return services;
    }

    /// <summary>The request's claims, or null when the principal is not a usable Frontdesk caller.</summary>
    public static RequestClaims? ClaimsOf(ClaimsPrincipal user)
    {
        var role = user.FindFirst("role")?.Value;
        var sub = user.FindFirst("sub")?.Value;
        // Fail closed: a missing or unknown app_role is no staff role at all (Roles.FromToken).
        var appRole = Roles.FromToken(user.FindFirst("app_role")?.Value);
        Guid? org = Guid.TryParse(user.FindFirst("org_id")?.Value, out var g) ? g : null;
        return role switch
        {
            RequestClaims.ServiceRole => new RequestClaims(role, org, sub, appRole),
            RequestClaims.Authenticated when org is not null => new RequestClaims(role, org, sub, appRole),
            _ => null,
        };
    }

    public static RequestClaims Claims(this HttpContext http) =>
        ClaimsOf(http.User) ?? throw new InvalidOperationException("Endpoint reached without an authenticated caller.");

    /// <summary>A token as Supabase issues them: aud "authenticated" unless told otherwise (null: no
    /// aud), iss when given.</summary>
    public static string Mint(byte[] secret, RequestClaims claims, TimeSpan lifetime, string? issuer = null, string? audience = "authenticated")
    {
        var payload = new JwtPayload
        {
            ["role"] = claims.Role,
            ["sub"] = claims.Subject ?? Guid.NewGuid().ToString(),
            ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["exp"] = DateTimeOffset.UtcNow.Add(lifetime).ToUnixTimeSeconds(),
        };
        if (audience is not null) payload["aud"] = audience;
        if (issuer is not null) payload["iss"] = issuer;
        if (claims.ClinicId is { } org) payload["org_id"] = org.ToString();
        if (claims.AppRole is not null) payload["app_role"] = claims.AppRole;
        var header = new JwtHeader(new SigningCredentials(new SymmetricSecurityKey(secret), SecurityAlgorithms.HmacSha256));
        return new JwtSecurityTokenHandler().WriteToken(new JwtSecurityToken(header, payload));
    }

    public static byte[] SecretBytes(string secret) => Encoding.UTF8.GetBytes(secret);
}
