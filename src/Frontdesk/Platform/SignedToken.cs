using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Frontdesk.Platform;

/// <summary>
/// Tamper-evident tokens for links: base64url(payload) "." base64url(HMAC-SHA256(payload)), under a
/// key derived (HKDF) from the secret and the token's purpose, so a token of one purpose never
/// passes as another. Needs no table; what the payload means is the caller's.
/// </summary>
public sealed class SignedToken(byte[] secret, string purpose)
{
    readonly byte[] _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, info: Encoding.UTF8.GetBytes(purpose));

    public string Seal(byte[] payload) =>
        Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(HMACSHA256.HashData(_key, payload));

    /// <summary>The payload when the token is well-formed and signed with this key (compared in constant time), else null.</summary>
    public byte[]? Open(string? token, int maxLength)
    {
        if (string.IsNullOrEmpty(token) || token.Length > maxLength) return null;
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0) return null;
        byte[] payload, mac;
        try
        {
            payload = Base64Url.DecodeFromChars(token.AsSpan(0, dot));
            mac = Base64Url.DecodeFromChars(token.AsSpan(dot + 1));
        }
        catch (FormatException)
        {
            return null;
        }
        return CryptographicOperations.FixedTimeEquals(HMACSHA256.HashData(_key, payload), mac) ? payload : null;
    }
}
