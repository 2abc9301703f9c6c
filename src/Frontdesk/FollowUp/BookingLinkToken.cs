using System.Buffers.Binary;
using System.Text;

namespace Frontdesk.FollowUp;

/// <summary>What a booking link stands for.</summary>
public sealed record BookingLink(Guid ClinicId, Guid LeadId, string Procedure, DateTimeOffset ExpiresAt);

/// <summary>
/// The token in {PUBLIC_BASE_URL}/book/{token}: which clinic, lead and procedure, until when —
/// signed with HMAC-SHA256 under a key derived (HKDF) from the JWT secret, so it needs no table and
/// cannot be forged or extended. Format: base64url(v1 payload) "." base64url(mac).
/// Payload: version (1) · clinic (16) · lead (16) · expiry unix seconds (8, big-endian) · procedure (UTF-8).
/// </summary>
public sealed class BookingLinkToken
{
    const byte Version = 1;
    const int FixedLength = 1 + 16 + 16 + 8;
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromDays(14);

    readonly SignedToken _token;

    public BookingLinkToken(byte[] secret) => _token = new SignedToken(secret, "frontdesk booking-link v1");

    public BookingLinkToken(DevSecrets secrets) : this(secrets.JwtSecret()) { }

    public string Create(Guid clinicId, Guid leadId, string procedure, DateTimeOffset expiresAt)
    {
        var proc = Encoding.UTF8.GetBytes(procedure);
        var payload = new byte[FixedLength + proc.Length];
        payload[0] = Version;
        clinicId.TryWriteBytes(payload.AsSpan(1, 16));
        leadId.TryWriteBytes(payload.AsSpan(17, 16));
        BinaryPrimitives.WriteInt64BigEndian(payload.AsSpan(33, 8), expiresAt.ToUnixTimeSeconds());
        proc.CopyTo(payload, FixedLength);
        return _token.Seal(payload);
    }

    /// <summary>The link, or null when the token is malformed, forged or expired.</summary>
    public BookingLink? Validate(string? token, DateTimeOffset now) =>
        Authentic(token) is { } link && link.ExpiresAt > now ? link : null;

    /// <summary>The link when the token is well-formed and signed by us, expired or not: an expired
    /// link still proves which clinic sent it, so its page can name the clinic and its number.</summary>
    public BookingLink? Authentic(string? token)
    {
        if (_token.Open(token, maxLength: 1024) is not { } payload || payload.Length < FixedLength || payload[0] != Version) return null;
        var expires = DateTimeOffset.FromUnixTimeSeconds(BinaryPrimitives.ReadInt64BigEndian(payload.AsSpan(33, 8)));
        return new BookingLink(new Guid(payload.AsSpan(1, 16)), new Guid(payload.AsSpan(17, 16)),
            Encoding.UTF8.GetString(payload.AsSpan(FixedLength)), expires);
    }
}
