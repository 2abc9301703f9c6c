using Frontdesk.BookingPage;
using Frontdesk.Manage;

namespace Frontdesk.Tests.Manage;

public class ManageLinkTokenTests
{
    static readonly byte[] Secret = "manage-link-test-secret-0123456789abcdef"u8.ToArray();

    [Fact]
    public void A_manage_token_names_its_clinic_booking_and_the_appointments_start()
    {
        var tokens = new ManageLinkToken(Secret);
        var (clinic, booking) = (Guid.NewGuid(), Guid.NewGuid());
        var starts = new DateTimeOffset(2026, 12, 3, 10, 30, 0, TimeSpan.Zero);

        var path = tokens.PathFor(clinic, booking, starts);

        Assert.StartsWith(ManageLinkToken.PathPrefix, path, StringComparison.Ordinal);
        Assert.Equal(new ManageLink(clinic, booking, starts), tokens.Authentic(path[ManageLinkToken.PathPrefix.Length..]));
    }

    [Fact]
    public void A_tampered_token_or_one_under_another_secret_is_not_authentic()
    {
        var tokens = new ManageLinkToken(Secret);
        var token = tokens.Create(Guid.NewGuid(), Guid.NewGuid(), DateTimeOffset.UtcNow.AddDays(1));
        var flipped = (token[0] == 'A' ? 'B' : 'A') + token[1..];

        Assert.Null(tokens.Authentic(flipped));
        Assert.Null(new ManageLinkToken("another-secret-0123456789abcdef0123456789"u8.ToArray()).Authentic(token));
        Assert.Null(tokens.Authentic(null));
        Assert.Null(tokens.Authentic(new string('a', 600)));
    }

    [Fact]
    public void A_cancel_link_token_never_passes_as_a_manage_token()
    {
        var cancel = new CancelLinkToken(Secret).Create(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), DateTimeOffset.UtcNow.AddDays(1));
        Assert.Null(new ManageLinkToken(Secret).Authentic(cancel));
    }
}
