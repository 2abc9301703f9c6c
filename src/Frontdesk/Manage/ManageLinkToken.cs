using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Frontdesk.Manage;

/// <summary>What a manage link stands for: one booking of one clinic, until the appointment starts.</summary>
public sealed record ManageLink(Guid ClinicId, Guid BookingId, DateTimeOffset ExpiresAt);

/// <summary>
/// The token in /manage/{token}, the patient's page to reschedule or cancel one booking (issue 18).
/// Same construction as the booking and cancel links (HMAC-SHA256 under a key derived from the JWT
/// secret for this purpose alone), so no other link's token passes as this one. It names the booking,
/// not the patient: the page shows nothing once the booking is cancelled or its patient erased, which
/// is what makes the link dead then. Payload: <see cref="SignedToken.SealClinicItem"/> of the clinic,
/// the booking and the appointment's start.
/// </summary>
public sealed class ManageLinkToken
{
    public const string PathPrefix = "/manage/";

    readonly SignedToken _token;

    public ManageLinkToken(byte[] secret) => _token = new SignedToken(secret, "frontdesk booking-manage v1");

    public ManageLinkToken(DevSecrets secrets) : this(secrets.JwtSecret()) { }

    public string Create(Guid clinicId, Guid bookingId, DateTimeOffset startsAt) => _token.SealClinicItem(clinicId, bookingId, startsAt);

    /// <summary>The path of the booking's manage page (absolute URL: <see cref="PublicUrl.For"/>).</summary>
    public string PathFor(Guid clinicId, Guid bookingId, DateTimeOffset startsAt) => PathPrefix + Create(clinicId, bookingId, startsAt);

    /// <summary>The link when the token is well-formed and ours, expired or not (the caller checks <see cref="ManageLink.ExpiresAt"/>).</summary>
    public ManageLink? Authentic(string? token) =>
        _token.OpenClinicItem(token) is (var clinicId, var bookingId, var expiresAt) ? new ManageLink(clinicId, bookingId, expiresAt) : null;
}

public static class ManageLinkServices
{
    /// <summary>Several features link to the manage page (reminders, replies, confirmations): registered once.</summary>
    public static IServiceCollection AddManageLinks(this IServiceCollection services)
    {
        services.TryAddSingleton<ManageLinkToken>();
        return services;
    }
}
