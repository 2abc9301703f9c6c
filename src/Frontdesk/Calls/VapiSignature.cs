using System.Security.Cryptography;
using System.Text;

namespace Frontdesk.Calls;

/// <summary>
/// Vapi's optional HMAC credential: x-signature = hex(HMAC-SHA256(secret, "{x-timestamp}.{raw body}")).
/// Checked over the raw bytes before anything is parsed; stale timestamps (over 5 minutes either way)
/// are refused so a captured request cannot be replayed later.
/// </summary>
public static class VapiSignature
{
    public static readonly TimeSpan MaxSkew = TimeSpan.FromMinutes(5);

    public static string Compute(string secret, string timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(timestamp + ".");
        var data = new byte[prefix.Length + body.Length];
        prefix.CopyTo(data, 0);
        body.CopyTo(data.AsSpan(prefix.Length));
        return Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), data));
    }

    public static bool IsValid(HttpRequest request, string secret, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        if (request.Headers["x-signature"] is not [{ Length: > 0 and < 200 } presented]) return false;
        if (request.Headers["x-timestamp"] is not [{ Length: > 0 and < 40 } timestamp]) return false;
        if (VapiMessage.Time(timestamp) is not { } at || (now - at).Duration() > MaxSkew)
            return false;
        var expected = Compute(secret, timestamp, body);
        var given = presented.StartsWith("sha256=", StringComparison.OrdinalIgnoreCase) ? presented[7..] : presented;
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(given.ToLowerInvariant()));
    }
}
