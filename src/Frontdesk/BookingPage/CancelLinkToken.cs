using System.Buffers.Binary;

namespace Frontdesk.BookingPage;

/// <summary>What a cancel link stands for.</summary>
public sealed record CancelLink(Guid ClinicId, Guid BookingId, Guid LeadId, DateTimeOffset ExpiresAt);

/// <summary>
/// The token in /book/cancel/{token}: one booking of one clinic, valid until the appointment
/// starts. Same construction as the booking link (HMAC-SHA256, key derived with HKDF from the JWT
/// secret) under its own derived key, so a booking-link token can never pass as a cancel token.
/// Payload: version (1) · clinic (16) · booking (16) · lead (16) · expiry unix seconds (8, big-endian).
/// </summary>
public sealed class CancelLinkToken
{
    const byte Version = 1;
    const int Length = 1 + 16 + 16 + 16 + 8;

    readonly SignedToken _token;

    public CancelLinkToken(byte[] secret) => _token = new SignedToken(secret, "frontdesk booking-cancel v1");

    public CancelLinkToken(DevSecrets secrets) : this(secrets.JwtSecret()) { }

    public string Create(Guid clinicId, Guid bookingId, Guid leadId, DateTimeOffset expiresAt)
    {
        var payload = new byte[Length];
        payload[0] = Version;
        clinicId.TryWriteBytes(payload.AsSpan(1, 16));
        bookingId.TryWriteBytes(payload.AsSpan(17, 16));
        leadId.TryWriteBytes(payload.AsSpan(33, 16));
        BinaryPrimitives.WriteInt64BigEndian(payload.AsSpan(49, 8), expiresAt.ToUnixTimeSeconds());
        return _token.Seal(payload);
    }

    /// <summary>The link when the token is well-formed and ours, expired or not (the caller checks <see cref="CancelLink.ExpiresAt"/>).</summary>
    public CancelLink? Authentic(string? token)
    {
        if (_token.Open(token, maxLength: 512) is not { } payload || payload.Length != Length || payload[0] != Version) return null;
        return new CancelLink(new Guid(payload.AsSpan(1, 16)), new Guid(payload.AsSpan(17, 16)), new Guid(payload.AsSpan(33, 16)),
            DateTimeOffset.FromUnixTimeSeconds(BinaryPrimitives.ReadInt64BigEndian(payload.AsSpan(49, 8))));
    }
}
