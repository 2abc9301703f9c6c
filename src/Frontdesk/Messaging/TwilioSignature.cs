using System.Security.Cryptography;
using System.Text;

namespace Frontdesk.Messaging;

/// <summary>The hash a Twilio webhook signature uses.</summary>
public enum TwilioSignatureAlgorithm
{
    /// <summary>The default: keyed by the account's auth token.</summary>
    HmacSha1,
    /// <summary>With a SharedKey, when a Webhook Rule matches the URL (X-Twilio-Webhooks-Signature-Settings).</summary>
    HmacSha256,
}

/// <summary>
/// Twilio's X-Twilio-Signature: base64 HMAC over the full URL followed by every POST parameter's
/// name and value, sorted by name — a parameter sent several times contributes each distinct value
/// once, in order, as Twilio's helper libraries sign it (twilio-node: new Set(values).sort()). Keyed
/// by the auth token with HMAC-SHA1, or, when Twilio adds X-Twilio-Webhooks-Signature-Settings
/// (key=&lt;SharedKey&gt;,algorithm=HMAC_SHA256), by that SharedKey's secret with the named algorithm;
/// only the hash changes. Twilio signs the URL as it was configured, with or without an explicit
/// default port, so both forms are accepted (as the official SDKs do). Compared in constant time.
/// </summary>
public static class TwilioSignature
{
    public const string SettingsHeader = "X-Twilio-Webhooks-Signature-Settings";

    public static string Compute(string key, string url, IEnumerable<KeyValuePair<string, string>> parameters,
        TwilioSignatureAlgorithm algorithm = TwilioSignatureAlgorithm.HmacSha1)
    {
        var data = new StringBuilder(url);
        foreach (var name in parameters.GroupBy(p => p.Key, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            foreach (var value in name.Select(p => p.Value).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
                data.Append(name.Key).Append(value);
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var bytes = Encoding.UTF8.GetBytes(data.ToString());
#pragma warning disable CA5350 // Twilio's protocol fixes HMAC-SHA1 for auth-token signatures; we verify, we do not choose.
        return Convert.ToBase64String(algorithm == TwilioSignatureAlgorithm.HmacSha256
            ? HMACSHA256.HashData(keyBytes, bytes)
            : HMACSHA1.HashData(keyBytes, bytes));
#pragma warning restore CA5350
    }

    public static bool IsValid(string key, string url, IReadOnlyList<KeyValuePair<string, string>> parameters, string presented,
        TwilioSignatureAlgorithm algorithm = TwilioSignatureAlgorithm.HmacSha1)
    {
        var presentedBytes = Encoding.UTF8.GetBytes(presented);
        var valid = false;
        foreach (var candidate in UrlForms(url))
            valid |= CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(Compute(key, candidate, parameters, algorithm)), presentedBytes);
        return valid;
    }

    /// <summary>Reads X-Twilio-Webhooks-Signature-Settings ("key=KY…,algorithm=HMAC_SHA256"): false when
    /// it names no key or an algorithm we do not know (the request is then refused, as the helpers do).</summary>
    public static bool TryReadSettings(string header, out string keyId, out TwilioSignatureAlgorithm algorithm)
    {
        keyId = "";
        algorithm = TwilioSignatureAlgorithm.HmacSha1;
        string? named = null;
        foreach (var part in header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) continue;
            var (name, value) = (part[..eq].Trim(), part[(eq + 1)..].Trim());
            if (name.Equals("key", StringComparison.OrdinalIgnoreCase)) keyId = value;
            else if (name.Equals("algorithm", StringComparison.OrdinalIgnoreCase)) named = value;
        }
        switch (named?.ToUpperInvariant())
        {
            case "HMAC_SHA256":
                algorithm = TwilioSignatureAlgorithm.HmacSha256;
                break;
            case "HMAC_SHA1":
                algorithm = TwilioSignatureAlgorithm.HmacSha1;
                break;
            default:
                return false;
        }
        return keyId.Length is > 0 and <= 64;
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
