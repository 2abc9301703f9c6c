using System.Buffers.Binary;

namespace Frontdesk.Waitlist;

/// <summary>What a claim link stands for: one waitlist offer of one clinic, until the offered time starts.</summary>
public sealed record ClaimLink(Guid ClinicId, Guid OfferId, DateTimeOffset ExpiresAt);

/// <summary>
/// The token in /waitlist/{token}, the link of a waitlist offer SMS. Same construction as the booking
/// and manage links (<see cref="SignedToken"/>) under its own purpose, so no other link's token passes
/// as this one. It names the offer, not the patient: once the offer's entry is gone (removed by
/// staff, erased with its patient) the link shows nothing. Payload: version (1) · clinic (16) ·
/// offer (16) · expiry unix seconds (8, big-endian) — the offered time's start.
/// </summary>
public sealed class WaitlistClaimToken
{
    public const string PathPrefix = "/waitlist/";

    const byte Version = 1;
    const int Length = 1 + 16 + 16 + 8;

    readonly SignedToken _token;

    public WaitlistClaimToken(byte[] secret) => _token = new SignedToken(secret, "frontdesk waitlist-claim v1");

    public WaitlistClaimToken(DevSecrets secrets) : this(secrets.JwtSecret()) { }

    public string Create(Guid clinicId, Guid offerId, DateTimeOffset expiresAt)
    {
        var payload = new byte[Length];
        payload[0] = Version;
        clinicId.TryWriteBytes(payload.AsSpan(1, 16));
        offerId.TryWriteBytes(payload.AsSpan(17, 16));
        BinaryPrimitives.WriteInt64BigEndian(payload.AsSpan(33, 8), expiresAt.ToUnixTimeSeconds());
        return _token.Seal(payload);
    }

    public string PathFor(Guid clinicId, Guid offerId, DateTimeOffset expiresAt) => PathPrefix + Create(clinicId, offerId, expiresAt);

    /// <summary>The link when the token is well-formed and ours, expired or not (the caller checks <see cref="ClaimLink.ExpiresAt"/>).</summary>
    public ClaimLink? Authentic(string? token)
    {
        if (_token.Open(token, maxLength: 512) is not { } payload || payload.Length != Length || payload[0] != Version) return null;
        return new ClaimLink(new Guid(payload.AsSpan(1, 16)), new Guid(payload.AsSpan(17, 16)),
            DateTimeOffset.FromUnixTimeSeconds(BinaryPrimitives.ReadInt64BigEndian(payload.AsSpan(33, 8))));
    }
}
