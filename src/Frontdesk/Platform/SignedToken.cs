using System.Buffers.Binary;
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

    const byte ClinicItemVersion = 1;
    const int ClinicItemLength = 1 + 16 + 16 + 8;

    /// <summary>A link to one thing of one clinic until a time (the manage and waitlist-claim links). Payload:
    /// version (1) · clinic (16) · item (16) · expiry unix seconds (8, big-endian).</summary>
    public string SealClinicItem(Guid clinicId, Guid itemId, DateTimeOffset expiresAt)
    {
        var payload = new byte[ClinicItemLength];
        payload[0] = ClinicItemVersion;
        clinicId.TryWriteBytes(payload.AsSpan(1, 16));
        itemId.TryWriteBytes(payload.AsSpan(17, 16));
        BinaryPrimitives.WriteInt64BigEndian(payload.AsSpan(33, 8), expiresAt.ToUnixTimeSeconds());
        return Seal(payload);
    }

    /// <summary>What <see cref="SealClinicItem"/> sealed, when the token is well-formed and ours, expired or not.</summary>
    public (Guid ClinicId, Guid ItemId, DateTimeOffset ExpiresAt)? OpenClinicItem(string? token)
    {
        if (Open(token, maxLength: 512) is not { } payload || payload.Length != ClinicItemLength || payload[0] != ClinicItemVersion) return null;
        return (new Guid(payload.AsSpan(1, 16)), new Guid(payload.AsSpan(17, 16)),
            DateTimeOffset.FromUnixTimeSeconds(BinaryPrimitives.ReadInt64BigEndian(payload.AsSpan(33, 8))));
    }
}
