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
    /// <summary>Certainly not accepted, worth retrying: 429/20429 (Twilio refused the request before
    /// processing it) or a connection that never opened.</summary>
    public sealed record Transient(int? Code, string Message, TimeSpan? RetryAfter) : TwilioSendResult;
    /// <summary>Rejected for good (21610 opted out, 21211/21614 invalid number, other 4xx).</summary>
    public sealed record Permanent(int? Code, string Message) : TwilioSendResult;
    /// <summary>Twilio may have created the message: a 5xx (Twilio's 20500 page: a message POST that
    /// answered 500 may still have been sent), a timeout, a connection lost after sending, an
    /// unreadable 2xx. Look the message up before any resend.</summary>
    public sealed record Ambiguous(int? Code, string Message, TimeSpan? RetryAfter) : TwilioSendResult;
}

/// <summary>What Twilio's Messages list says about a message we may have sent.</summary>
public abstract record TwilioLookup
{
    public sealed record Found(string Sid, string Status) : TwilioLookup;
    /// <summary>Twilio has no message to that number with that body since the attempt began.</summary>
    public sealed record NotFound : TwilioLookup;
    /// <summary>The lookup itself failed (Twilio down, 5xx, 429): try again later.</summary>
    public sealed record Failed(string Message, TimeSpan? RetryAfter) : TwilioLookup;
}

/// <summary>
/// A thin client of Twilio's Messages API: create (form POST) and list (GET with To, From and
/// DateSent filters, following next_page_uri), Basic auth, Twilio's JSON error bodies mapped to
/// results. No retries here: Twilio has no idempotency key, so whether to try again is decided
/// durably by the outbox. Kept over the official SDK (README, "The Twilio client"): we need to tell
/// "never reached Twilio" from "may have reached it", which the SDK folds into one exception type.
/// </summary>
public sealed class TwilioClient(HttpClient http, TwilioOptions options)
{
    public const int OptedOut = 21610;
    public const int InvalidTo = 21211;
    public const int NotMobile = 21614;
    public const int TooManyRequests = 20429;

    string MessagesUrl => $"{options.ApiBaseUrl.TrimEnd('/')}/2010-04-01/Accounts/{Uri.EscapeDataString(options.AccountSid!)}/Messages.json";

    void Authorize(HttpRequestMessage request) =>
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.AccountSid}:{options.AuthToken}")));

    public async Task<TwilioSendResult> SendAsync(string to, string from, string body, string? statusCallback, CancellationToken ct)
    {
        var form = new List<KeyValuePair<string, string>> { new("To", to), new("Body", body) };
        form.Add(from.StartsWith("MG", StringComparison.Ordinal) ? new("MessagingServiceSid", from) : new("From", from));
        if (statusCallback is not null) form.Add(new("StatusCallback", statusCallback));
        using var request = new HttpRequestMessage(HttpMethod.Post, MessagesUrl) { Content = new FormUrlEncodedContent(form) };
        Authorize(request);

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
            return new TwilioSendResult.Ambiguous(null, "request failed after sending: " + e.HttpRequestError, null);
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            return new TwilioSendResult.Ambiguous(null, "timed out waiting for Twilio", null);
        }

        using (response)
        {
            // SendAsync has already read the whole body (HttpCompletionOption.ResponseContentRead): a
            // connection lost or a timeout while it arrived surfaced above as an ambiguous outcome.
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
                    // Accepted (2xx) but unreadable: the message exists at Twilio; the lookup finds its sid.
                    return new TwilioSendResult.Ambiguous(null, $"HTTP {status} with an unreadable body", null);
                }
            }
            var (code, message) = ReadError(text);
            var retryAfter = RetryAfter(response);
            if (response.StatusCode == HttpStatusCode.TooManyRequests || code == TooManyRequests)
                return new TwilioSendResult.Transient(code, message ?? $"HTTP {status}", retryAfter);
            if (status >= 500)
                return new TwilioSendResult.Ambiguous(code, message ?? $"HTTP {status}", retryAfter);
            return new TwilioSendResult.Permanent(code, message ?? $"HTTP {status}");
        }
    }

    /// <summary>
    /// Looks for a message we may have created: Twilio's Messages list filtered by To, From (when it
    /// is a number, not a messaging service) and DateSent on or after the attempt's UTC day, newest
    /// first, following next_page_uri for at most <paramref name="maxPages"/> pages. A match has our
    /// body and was created at or after <paramref name="since"/> (less a minute for clock skew).
    /// </summary>
    public async Task<TwilioLookup> FindAsync(string to, string from, string body, DateTimeOffset since, CancellationToken ct, int maxPages = 5)
    {
        var query = new StringBuilder("?To=").Append(Uri.EscapeDataString(to));
        if (!from.StartsWith("MG", StringComparison.Ordinal)) query.Append("&From=").Append(Uri.EscapeDataString(from));
        query.Append('&').Append(Uri.EscapeDataString("DateSent>")).Append('=')
             .Append(since.UtcDateTime.AddMinutes(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).Append("&PageSize=50");
        var url = MessagesUrl + query;
        var notBefore = since.AddMinutes(-1);
        for (var page = 0; page < maxPages && url is not null; page++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            Authorize(request);
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, ct);
            }
            catch (HttpRequestException e)
            {
                return new TwilioLookup.Failed("lookup failed: " + e.HttpRequestError, null);
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                return new TwilioLookup.Failed("lookup timed out", null);
            }
            using (response)
            {
                var text = await response.Content.ReadAsStringAsync(ct);
                if (!response.IsSuccessStatusCode)
                {
                    var (code, message) = ReadError(text);
                    return new TwilioLookup.Failed(Describe(code, message ?? $"HTTP {(int)response.StatusCode}"), RetryAfter(response));
                }
                try
                {
                    using var doc = JsonDocument.Parse(text);
                    foreach (var m in doc.RootElement.GetProperty("messages").EnumerateArray())
                    {
                        if (m.TryGetProperty("body", out var b) && b.GetString() == body
                            && (!m.TryGetProperty("date_created", out var dc) || dc.GetString() is not { } created
                                || !DateTimeOffset.TryParse(created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                                || at >= notBefore))
                            return new TwilioLookup.Found(m.GetProperty("sid").GetString()!, m.TryGetProperty("status", out var st) ? st.GetString() ?? "queued" : "queued");
                    }
                    url = doc.RootElement.TryGetProperty("next_page_uri", out var next) && next.GetString() is { Length: > 0 } n
                        ? options.ApiBaseUrl.TrimEnd('/') + n
                        : null;
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
                {
                    return new TwilioLookup.Failed("unreadable Messages list", null);
                }
            }
        }
        // More pages than we read: not certain that Twilio has no record, so not "not found".
        return url is null ? new TwilioLookup.NotFound() : new TwilioLookup.Failed("too many messages to that number to be sure", null);
    }

    static TimeSpan? RetryAfter(HttpResponseMessage response) =>
        response.Headers.RetryAfter?.Delta ?? (response.Headers.RetryAfter?.Date is { } d ? d - DateTimeOffset.UtcNow : null);

    static (int? Code, string? Message) ReadError(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return (null, null);
            int? code = root.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : null;
            var message = root.TryGetProperty("message", out var m) ? m.GetString() : null;
            return (code, message);
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    /// <summary>"21211: The 'To' number [number] is not a valid phone number.": stored on the message and
    /// its job, so the number Twilio quotes is scrubbed (issue 13).</summary>
    public static string Describe(int? code, string message) =>
        code is { } c ? c.ToString(CultureInfo.InvariantCulture) + ": " + Frontdesk.Privacy.Scrub.Numbers(message) : Frontdesk.Privacy.Scrub.Numbers(message);
}
