using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Frontdesk.Platform;

/// <summary>The absolute base of links we hand out (SMS links, Twilio and Vapi callback URLs):
/// FRONTDESK_PUBLIC_BASE_URL, or the first listen address.</summary>
public sealed class PublicUrl(FrontdeskOptions options, IServer server)
{
    public string Base => (options.PublicBaseUrl
                           ?? server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
                           ?? "http://127.0.0.1:5080").TrimEnd('/');

    /// <summary><paramref name="pathOrUrl"/> unchanged when already absolute, else under the base.</summary>
    public string For(string pathOrUrl) =>
        Uri.TryCreate(pathOrUrl, UriKind.Absolute, out var u) && u.Scheme is "http" or "https"
            ? pathOrUrl
            : Base + "/" + pathOrUrl.TrimStart('/');
}
