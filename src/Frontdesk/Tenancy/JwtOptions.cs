using System.ComponentModel.DataAnnotations;

namespace Frontdesk.Tenancy;

/// <summary>
/// Which bearer tokens are ours besides the signature (issue 14). Supabase's access tokens carry
/// <c>aud: "authenticated"</c> and <c>iss: "https://&lt;ref&gt;.supabase.co/auth/v1"</c>; a token
/// signed with the same secret for another audience (or by another issuer sharing it) is refused.
/// </summary>
public sealed class JwtOptions : IValidatableObject
{
    public const string DefaultAudience = "authenticated";

    /// <summary>FRONTDESK_JWT_ISSUER: comma-separated accepted issuers; unset → iss is not checked.</summary>
    public string? Issuer { get; set; }

    /// <summary>FRONTDESK_JWT_AUDIENCE: comma-separated accepted audiences; "*" → not checked;
    /// unset → "authenticated" outside Development, not checked in Development.</summary>
    public string? Audience { get; set; }

    public IReadOnlyList<string> Issuers => Split(Issuer);

    /// <summary>The audiences to require, or null when the audience is not checked.</summary>
    public IReadOnlyList<string>? Audiences(bool development) => Audience?.Trim() switch
    {
        null => development ? null : [DefaultAudience],
        "*" => null,
        _ => Split(Audience),
    };

    public static void Bind(JwtOptions o, IConfiguration c)
    {
        c.GetSection("Frontdesk:Jwt").Bind(o);
        o.Issuer = c["FRONTDESK_JWT_ISSUER"] ?? o.Issuer;
        o.Audience = c["FRONTDESK_JWT_AUDIENCE"] ?? o.Audience;
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Issuer is not null && Issuers.Count == 0)
            yield return new ValidationResult("FRONTDESK_JWT_ISSUER is set but names no issuer.", [nameof(Issuer)]);
        if (Audience is not null && Audience.Trim() != "*" && Split(Audience).Length == 0)
            yield return new ValidationResult("FRONTDESK_JWT_AUDIENCE is set but names no audience (use * to accept any).", [nameof(Audience)]);
    }

    static string[] Split(string? list) =>
        list is null ? [] : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
