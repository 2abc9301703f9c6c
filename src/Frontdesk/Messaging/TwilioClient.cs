using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Frontdesk.Messaging;

/// <summary>Twilio settings, from API.md's variables.</summary>
public sealed class TwilioOptions
{
    public string? AccountSid { get; set; }
    public string? AuthToken { get; set; }
    public string? From { get; set; }
    public string ApiBaseUrl { get; set; } = "https://api.twilio.com";
    /// <summary>SharedKey id → secret, for webhooks Twilio signs with a SharedKey (TWILIO_WEBHOOK_SHARED_KEYS,
    /// "KYid=secret,KYid2=secret2": several at once so a key can be rotated without downtime).</summary>
    public IReadOnlyDictionary<string, string> WebhookSharedKeys { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Sending needs the account and its token; the sender may come from the clinic.</summary>
    public bool Configured => !string.IsNullOrWhiteSpace(AccountSid) && !string.IsNullOrWhiteSpace(AuthToken);

    public static TwilioOptions Load(IConfiguration c) => new()
    {
        AccountSid = c["TWILIO_ACCOUNT_SID"],
        AuthToken = c["TWILIO_AUTH_TOKEN"],
        From = c["TWILIO_FROM"],
        ApiBaseUrl = c["TWILIO_API_BASE_URL"] is { Length: > 0 } b ? b : "https://api.twilio.com",
        WebhookSharedKeys = SharedKeys(c["TWILIO_WEBHOOK_SHARED_KEYS"]),
    };

    /// <summary>Parsed at start: a malformed entry stops the start with a message instead of refusing every callback later.</summary>
    static Dictionary<string, string> SharedKeys(string? value)
    {
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == entry.Length - 1)
                throw new InvalidOperationException("TWILIO_WEBHOOK_SHARED_KEYS is a comma-separated list of SharedKeyId=secret.");
            keys[entry[..eq]] = entry[(eq + 1)..];
        }
        return keys;
    }
}

/// <summary>How one attempt to create a message ended.</summary>
public abstract record TwilioSendResult
{
    /// <summary>201: Twilio has the message. Never send it again.</summary>
    public sealed record Accepted(string Sid, string Status) : TwilioSendResult;
    /// <summary>Certainly not accepted and worth retrying (429/20429, 5xx, connection refused).</summary>
    public sealed record Transient(int? Code, string Message, TimeSpan? RetryAfter) : TwilioSendResult;
    /// <summary>Rejected for good (21610 opted out, 21211/21614 invalid number, other 4xx).</summary>
    public sealed record Permanent(int? Code, string Message) : TwilioSendResult;
    /// <summary>The request may have reached Twilio but no answer came (timeout, connection lost).</summary>
    public sealed record Unknown(string Message) : TwilioSendResult;
}

/// <summary>
/// A thin client of Twilio's Messages API (the official SDK is not in our registry): one form POST
/// with Basic auth, Twilio's JSON error bodies mapped to <see cref="TwilioSendResult"/>. No retries
/// here: Twilio has no idempotency key, so whether to try again is decided durably by the outbox.
/// </summary>
public sealed class TwilioClient(HttpClient http, TwilioOptions options)
{
    public const int OptedOut = 21610;
    public const int InvalidTo = 21211;
    public const int NotMobile = 21614;
    public const int TooManyRequests = 20429;

    public async Task<TwilioSendResult> SendAsync(string to, string from, string body, string? statusCallback, CancellationToken ct)
    {
        var form = new List<KeyValuePair<string, string>> { new("To", to), new("Body", body) };
        form.Add(from.StartsWith("MG", StringComparison.Ordinal) ? new("MessagingServiceSid", from) : new("From", from));
        if (statusCallback is not null) form.Add(new("StatusCallback", statusCallback));
        var url = $"{options.ApiBaseUrl.TrimEnd('/')}/2010-04-01/Accounts/{Uri.EscapeDataString(options.AccountSid!)}/Messages.json";
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.AccountSid}:{options.AuthToken}")));

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct);
        }
        catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
        {
            // Nothing reached Twilio: safe to try again.
            return new TwilioSendResult.Transient(null, "connection failed: " + e.HttpRequestError, null);
        }
        catch (HttpRequestException e)
        {
            return new TwilioSendResult.Unknown("request failed after sending: " + e.HttpRequestError);
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            return new TwilioSendResult.Unknown("timed out waiting for Twilio");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                try
                {
                    using var doc = JsonDocument.Parse(text);
                    var sid = doc.RootElement.GetProperty("sid").GetString()!;
                    var st = doc.RootElement.TryGetProperty("status", out var s) ? s.GetString() ?? "queued" : "queued";
                    return new TwilioSendResult.Accepted(sid, st);
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
                {
                    // Accepted (2xx) but unreadable: the message exists at Twilio; do not resend.
                    return new TwilioSendResult.Unknown($"HTTP {status} with an unreadable body");
                }
            }
            var (code, message) = ReadError(text);
            var retryAfter = response.Headers.RetryAfter?.Delta
                             ?? (response.Headers.RetryAfter?.Date is { } d ? d - DateTimeOffset.UtcNow : null);
            if (response.StatusCode == HttpStatusCode.TooManyRequests || code == TooManyRequests || status >= 500)
                return new TwilioSendResult.Transient(code, message ?? $"HTTP {status}", retryAfter);
            return new TwilioSendResult.Permanent(code, message ?? $"HTTP {status}");
        }
    }

    static (int? Code, string? Message) ReadError(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            int? code = root.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : null;
            var message = root.TryGetProperty("message", out var m) ? m.GetString() : null;
            return (code, message);
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    public static string Describe(int? code, string message) =>
        code is { } c ? c.ToString(CultureInfo.InvariantCulture) + ": " + message : message;
}
