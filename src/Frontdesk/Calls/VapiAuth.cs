using System.Security.Cryptography;
using System.Text;

namespace Frontdesk.Calls;

/// <summary>A clinic as Vapi requests see it; <paramref name="Hmac"/>: it also signs its requests.</summary>
public sealed record VapiClinic(Guid Id, string Name, string Timezone, string? SmsFrom, string? AssistantId, string? PhoneNumberId, string Secret,
    bool Hmac = false);

/// <summary>
/// Finds the clinic a Vapi request belongs to from its shared secret alone — before the body is
/// parsed. The secret arrives as X-Vapi-Secret or Authorization: Bearer; the lookup is by its
/// SHA-256 (indexed), then the secret itself is compared in constant time.
/// </summary>
public static class VapiAuth
{
    public static string? PresentedSecret(HttpRequest request)
    {
        if (request.Headers["X-Vapi-Secret"] is [{ Length: > 0 } s]) return s;
        var auth = request.Headers.Authorization.ToString();
        return auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && auth.Length > 7 ? auth[7..].Trim() : null;
    }

    public static async Task<VapiClinic?> AuthenticateAsync(HttpRequest request, Db db, CancellationToken ct)
    {
        var presented = PresentedSecret(request);
        if (presented is null || presented.Length > 512) return null;
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var rows = await db.QueryOnceAsync<VapiClinic>(RequestClaims.AsSystem(SystemPath.WebhookClinicResolution), """
            select id, name, timezone, sms_from, vapi_assistant_id, vapi_phone_number_id, vapi_secret, vapi_hmac
            from clinics where vapi_secret_sha256 = @Digest
            """, new { Digest = digest }, ct);
        if (rows is not [var clinic]) return null;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(clinic.Secret), Encoding.UTF8.GetBytes(presented))
            ? clinic
            : null;
    }
}
