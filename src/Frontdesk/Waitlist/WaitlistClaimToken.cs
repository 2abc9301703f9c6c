namespace Frontdesk.Waitlist;

/// <summary>What a claim link stands for: one waitlist offer of one clinic, until the offered time starts.</summary>
public sealed record ClaimLink(Guid ClinicId, Guid OfferId, DateTimeOffset ExpiresAt);

/// <summary>
/// The token in /waitlist/{token}, the link of a waitlist offer SMS. Same construction as the booking
/// and manage links (<see cref="SignedToken"/>) under its own purpose, so no other link's token passes
/// as this one. It names the offer, not the patient: once the offer's entry is gone (removed by
/// staff, erased with its patient) the link shows nothing. Payload: <see cref="SignedToken.SealClinicItem"/>
/// of the clinic, the offer and the offered time's start.
/// </summary>
public sealed class WaitlistClaimToken
{
    public const string PathPrefix = "/waitlist/";

    readonly SignedToken _token;

    public WaitlistClaimToken(byte[] secret) => _token = new SignedToken(secret, "frontdesk waitlist-claim v1");

    public WaitlistClaimToken(DevSecrets secrets) : this(secrets.JwtSecret()) { }

    public string Create(Guid clinicId, Guid offerId, DateTimeOffset expiresAt) => _token.SealClinicItem(clinicId, offerId, expiresAt);

    public string PathFor(Guid clinicId, Guid offerId, DateTimeOffset expiresAt) => PathPrefix + Create(clinicId, offerId, expiresAt);

    /// <summary>The link when the token is well-formed and ours, expired or not (the caller checks <see cref="ClaimLink.ExpiresAt"/>).</summary>
    public ClaimLink? Authentic(string? token) =>
        _token.OpenClinicItem(token) is (var clinicId, var offerId, var expiresAt) ? new ClaimLink(clinicId, offerId, expiresAt) : null;
}
