using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Apis.Auth.OAuth2;

namespace Frontdesk.Calendar;

/// <summary>A Calendar API answer: status and body (Google's error body on failure).</summary>
public sealed record GoogleResponse(int Status, JsonElement Body)
{
    public bool Ok => Status is >= 200 and < 300;

    /// <summary>error.errors[0].reason, e.g. "rateLimitExceeded", "notFound", "fullSyncRequired".</summary>
    public string? Reason =>
        Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object
        && e.TryGetProperty("errors", out var list) && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() > 0
        && list[0].TryGetProperty("reason", out var r) ? r.GetString() : null;

    /// <summary>Worth retrying later: throttling, Google's own failures, an expired token.</summary>
    public bool Transient => Status is 401 or 408 or 429 or >= 500
        || (Status == 403 && Reason is "rateLimitExceeded" or "userRateLimitExceeded" or "quotaExceeded");

    /// <summary>Short, PII-free description for the booking's calendar_error and logs.</summary>
    public string Describe()
    {
        var message = Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty("error", out var e)
                      && e.ValueKind == JsonValueKind.Object && e.TryGetProperty("message", out var m) ? m.GetString() : null;
        var text = $"Google answered {Status}{(Reason is null ? "" : " " + Reason)}{(message is null ? "" : ": " + message)}";
        return text.Length > 300 ? text[..300] : text;
    }
}

/// <summary>Google could not be reached in time (network, timeout, token endpoint): retry later.</summary>
public sealed class GoogleUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A thin Calendar v3 REST client (the official SDK is not in this project's registry), authenticated
/// as a service account through Google.Apis.Auth. The credential's token_uri and the API base URL are
/// both configurable, so the whole client can talk to a loopback fake. Every call has a timeout.
/// </summary>
public sealed class GoogleCalendarClient
{
    /// <summary>Events CRUD, list and watch; free/busy queries; reading a calendar's own properties
    /// (its description carries a clinic's verification code, issue 14).</summary>
    public static readonly string[] Scopes =
    [
        "https://www.googleapis.com/auth/calendar.events",
        "https://www.googleapis.com/auth/calendar.freebusy",
        "https://www.googleapis.com/auth/calendar.calendars.readonly",
    ];

    readonly HttpClient _http;
    readonly CalendarOptions _options;
    readonly GoogleCredential? _credential;

    public GoogleCalendarClient(HttpClient http, CalendarOptions options)
    {
        _http = http;
        _options = options;
        _http.BaseAddress = new Uri(options.ApiBaseUrl.TrimEnd('/') + "/");
        // Our own timeout per call (token included) below; the HttpClient's is only a backstop.
        _http.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
        if (options.Enabled)
        {
            var json = File.ReadAllText(options.CredentialsPath!);
            var account = CredentialFactory.FromJson<ServiceAccountCredential>(json);
            ServiceAccountEmail = account.Id;
            _credential = account.ToGoogleCredential().CreateScoped(Scopes);
        }
    }

    public bool Enabled => _credential is not null;

    /// <summary>The address clinics share their calendars with (the credential's client_email).</summary>
    public string? ServiceAccountEmail { get; }

    /// <summary>calendars.get: the calendar's canonical id, summary and description.</summary>
    public Task<GoogleResponse> GetCalendarAsync(string calendarId, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, $"calendar/v3/calendars/{Escape(calendarId)}", null, ct);

    public static string Escape(string segment) => Uri.EscapeDataString(segment);

    public Task<GoogleResponse> InsertEventAsync(string calendarId, JsonObject ev, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"calendar/v3/calendars/{Escape(calendarId)}/events", ev, ct);

    public Task<GoogleResponse> PatchEventAsync(string calendarId, string eventId, JsonObject patch, CancellationToken ct) =>
        SendAsync(HttpMethod.Patch, $"calendar/v3/calendars/{Escape(calendarId)}/events/{Escape(eventId)}", patch, ct);

    public Task<GoogleResponse> DeleteEventAsync(string calendarId, string eventId, CancellationToken ct) =>
        SendAsync(HttpMethod.Delete, $"calendar/v3/calendars/{Escape(calendarId)}/events/{Escape(eventId)}", null, ct);

    /// <summary>One page of events.list: full (no sync token) or incremental. Deleted events come back
    /// with status "cancelled" (showDeleted), which incremental sync needs to remove them.</summary>
    public Task<GoogleResponse> ListEventsAsync(string calendarId, string? syncToken, string? pageToken, CancellationToken ct)
    {
        var q = new StringBuilder($"calendar/v3/calendars/{Escape(calendarId)}/events?maxResults=2500&showDeleted=true");
        if (syncToken is not null) q.Append("&syncToken=").Append(Escape(syncToken));
        if (pageToken is not null) q.Append("&pageToken=").Append(Escape(pageToken));
        return SendAsync(HttpMethod.Get, q.ToString(), null, ct);
    }

    public Task<GoogleResponse> FreeBusyAsync(string calendarId, DateTimeOffset from, DateTimeOffset to, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, "calendar/v3/freeBusy", new JsonObject
        {
            ["timeMin"] = from.ToUniversalTime().ToString("O"),
            ["timeMax"] = to.ToUniversalTime().ToString("O"),
            ["items"] = new JsonArray(new JsonObject { ["id"] = calendarId }),
        }, ct);

    public Task<GoogleResponse> WatchAsync(string calendarId, string channelId, string token, string address, TimeSpan ttl, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"calendar/v3/calendars/{Escape(calendarId)}/events/watch", new JsonObject
        {
            ["id"] = channelId,
            ["type"] = "web_hook",
            ["address"] = address,
            ["token"] = token,
            ["params"] = new JsonObject { ["ttl"] = ((long)ttl.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture) },
        }, ct);

    public Task<GoogleResponse> StopChannelAsync(string channelId, string resourceId, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, "calendar/v3/channels/stop", new JsonObject { ["id"] = channelId, ["resourceId"] = resourceId }, ct);

    async Task<GoogleResponse> SendAsync(HttpMethod method, string pathAndQuery, JsonNode? body, CancellationToken ct)
    {
        if (_credential is null) throw new InvalidOperationException("Calendar sync is off: GOOGLE_APPLICATION_CREDENTIALS is not set.");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            var token = await TokenAsync(timeout.Token, ct);
            using var request = new HttpRequestMessage(method, pathAndQuery);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (body is not null)
                request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            using var response = await _http.SendAsync(request, timeout.Token);
            var text = await response.Content.ReadAsStringAsync(timeout.Token);
            JsonElement json = default;
            if (!string.IsNullOrWhiteSpace(text))
            {
                try { json = JsonDocument.Parse(text).RootElement.Clone(); }
                catch (JsonException) { /* a proxy's HTML error page: status alone decides */ }
            }
            return new GoogleResponse((int)response.StatusCode, json);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new GoogleUnavailableException($"Google did not answer within {_options.TimeoutSeconds:0.##} s", e);
        }
        catch (HttpRequestException e)
        {
            throw new GoogleUnavailableException("Google could not be reached: " + e.HttpRequestError, e);
        }
    }

    async Task<string> TokenAsync(CancellationToken timeout, CancellationToken ct)
    {
        try
        {
            // Cached by the credential until close to expiry: one token request per hour, not per call.
            return await ((ITokenAccess)_credential!).GetAccessTokenForRequestAsync(null, timeout);
        }
        catch (Google.Apis.Auth.OAuth2.Responses.TokenResponseException e)
        {
            throw new GoogleUnavailableException($"Google token endpoint refused: {e.Error?.Error ?? e.StatusCode?.ToString()} {e.Error?.ErrorDescription}", e);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // The library surfaces transport and parse failures of the token endpoint in several types.
            throw new GoogleUnavailableException("Google token endpoint failed: " + e.GetType().Name, e);
        }
    }
}
