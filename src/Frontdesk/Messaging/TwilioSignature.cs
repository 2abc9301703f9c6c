using System.Security.Cryptography;
using System.Text;

namespace Frontdesk.Messaging;

/// <summary>
/// Twilio's X-Twilio-Signature: base64 HMAC-SHA1, keyed by the auth token, over the full URL
/// followed by every POST parameter's name and value, sorted by name. Twilio signs the URL as it
/// was configured, with or without an explicit default port, so both forms are accepted (as the
/// official SDKs do).
/// </summary>
public static class TwilioSignature
{
    public static string Compute(string authToken, string url, IEnumerable<KeyValuePair<string, string>> parameters)
    {
        var data = new StringBuilder(url);
        foreach (var (k, v) in parameters.OrderBy(p => p.Key, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal))
            data.Append(k).Append(v);
#pragma warning disable CA5350 // Twilio's protocol fixes HMAC-SHA1; we verify, we do not choose.
        return Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(authToken), Encoding.UTF8.GetBytes(data.ToString())));
#pragma warning restore CA5350
    }

    public static bool IsValid(string authToken, string url, IReadOnlyList<KeyValuePair<string, string>> parameters, string presented)
    {
        var presentedBytes = Encoding.UTF8.GetBytes(presented);
        var valid = false;
        foreach (var candidate in UrlForms(url))
            valid |= CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(Compute(authToken, candidate, parameters)), presentedBytes);
        return valid;
    }

    /// <summary>The URL as given, and with its port added (when absent) or removed (when present).</summary>
    static IEnumerable<string> UrlForms(string url)
    {
        yield return url;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) yield break;
        var bare = $"{uri.Scheme}://{uri.Host}";
        var withPort = $"{bare}:{uri.Port}";
        if (url.StartsWith(withPort, StringComparison.OrdinalIgnoreCase))
            yield return bare + url[withPort.Length..];
        else if (url.StartsWith(bare, StringComparison.OrdinalIgnoreCase))
            yield return withPort + url[bare.Length..];
    }
}
