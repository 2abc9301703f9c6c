using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Bench;

/// <summary>
/// A loopback Google: the OAuth2 token endpoint (JWT-bearer grant, assertion signature checked with
/// the throwaway service account's public key) and the Calendar v3 endpoints Frontdesk uses (events
/// insert/patch/delete/list with sync and page tokens, freeBusy, watch, channels.stop, calendars.get
/// with the calendar's canonical id and description) with Google's status codes and error bodies. Failures on demand: down, the next N calls fail, a slow insert.
/// Shared by the tests and the bench (linked into the bench project).
/// </summary>
public sealed partial class GoogleFake : IAsyncDisposable
{
    public const string EventsScope = "https://www.googleapis.com/auth/calendar.events";
    /// <summary>The audience Google's token endpoint requires (Google.Apis.Auth always sends it,
    /// whatever token_uri says; the fake also takes its own address).</summary>
    public const string GoogleTokenAudience = "https://oauth2.googleapis.com/token";
    public const string FreeBusyScope = "https://www.googleapis.com/auth/calendar.freebusy";
    /// <summary>calendars.get needs one of these (Google's granular scope first).</summary>
    public static readonly string[] CalendarReadScopes =
    [
        "https://www.googleapis.com/auth/calendar.calendars.readonly",
        "https://www.googleapis.com/auth/calendar.calendars",
        "https://www.googleapis.com/auth/calendar.readonly",
        "https://www.googleapis.com/auth/calendar",
    ];

    readonly WebApplication _app;
    readonly RSA _key = RSA.Create(2048);
    readonly object _gate = new();
    readonly Dictionary<string, Cal> _calendars = new(StringComparer.Ordinal);
    /// <summary>Access token → the scopes it was granted.</summary>
    readonly Dictionary<string, string[]> _tokens = new(StringComparer.Ordinal);
    /// <summary>Other names Google resolves to a calendar (calendars.get answers the canonical id).</summary>
    readonly Dictionary<string, string> _aliases = new(StringComparer.Ordinal);
    readonly Queue<int> _failures = new();
    long _seq;

    public string BaseUrl { get; private set; } = "";
    public string TokenUri => BaseUrl + "/token";
    public string ClientEmail { get; } = $"frontdesk-{Guid.NewGuid():N}"[..24] + "@fake-project.iam.gserviceaccount.com";
    public string CredentialsPath { get; } = Path.Combine(Path.GetTempPath(), $"google-sa-{Guid.NewGuid():N}.json");

    /// <summary>Every endpoint, the token endpoint included, answers 503.</summary>
    public bool Down { get => Volatile.Read(ref _down); set => Volatile.Write(ref _down, value); }
    bool _down;
    /// <summary>The next insert stores the event, then waits this long before answering.</summary>
    public TimeSpan? DelayNextInsert { get; set; }
    /// <summary>The next events.list of this calendar waits this long before answering.</summary>
    public (string CalendarId, TimeSpan Delay)? DelayNextListOf { get; set; }
    public int TokenRequests => Volatile.Read(ref _tokenRequests);
    public int RejectedBearer => Volatile.Read(ref _rejectedBearer);
    public int Gone410 => Volatile.Read(ref _gone410);
    int _tokenRequests, _rejectedBearer, _gone410;
    /// <summary>Calendars for which freeBusy answers errors[] (Google cannot say).</summary>
    public HashSet<string> FreeBusyErrors { get; } = new(StringComparer.Ordinal);
    public List<(string Method, string Path, int Status, bool WithSyncToken)> Calls { get; } = [];
    public List<(string CalendarId, string Id, string Token, string ResourceId, string Address)> Channels { get; } = [];

    sealed class Cal
    {
        public readonly Dictionary<string, Ev> Events = new(StringComparer.Ordinal);
        public long MinValidToken;
        public string? Description;
    }

    public sealed class Ev
    {
        public required string Id { get; init; }
        public required JsonObject Body { get; set; }
        public string Status { get; set; } = "confirmed";
        public long Seq { get; set; }
        /// <summary>Stopwatch timestamp of creation (the bench measures booking-to-event with it).</summary>
        public long CreatedTimestamp { get; init; } = System.Diagnostics.Stopwatch.GetTimestamp();
        public DateTimeOffset Start => DateTimeOffset.Parse(Body["start"]!["dateTime"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        public DateTimeOffset End => DateTimeOffset.Parse(Body["end"]!["dateTime"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        public string? BookingId => Body["extendedProperties"]?["private"]?["frontdeskBookingId"]?.GetValue<string>();
        public bool Transparent => Body["transparency"]?.GetValue<string>() == "transparent";
    }

    GoogleFake(WebApplication app) => _app = app;

    public static async Task<GoogleFake> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var fake = new GoogleFake(builder.Build());
        fake.Map();
        await fake._app.StartAsync();
        fake.BaseUrl = fake._app.Urls.First().TrimEnd('/');
        await File.WriteAllTextAsync(fake.CredentialsPath, new JsonObject
        {
            ["type"] = "service_account",
            ["project_id"] = "fake-project",
            ["private_key_id"] = Guid.NewGuid().ToString("N"),
            ["private_key"] = fake._key.ExportPkcs8PrivateKeyPem(),
            ["client_email"] = fake.ClientEmail,
            ["client_id"] = "1234567890",
            ["token_uri"] = fake.TokenUri,
        }.ToJsonString());
        return fake;
    }

    // ---- test controls -------------------------------------------------------------------------

    /// <summary>A calendar shared with the service account; <paramref name="description"/> is what its
    /// owner wrote in its settings (where a clinic's verification code goes).</summary>
    public void AddCalendar(string calendarId, string? description = null)
    {
        lock (_gate)
            if (!_calendars.TryAdd(calendarId, new Cal { Description = description }) && description is not null)
                _calendars[calendarId].Description = description;
    }

    /// <summary>The owner edits the calendar's description.</summary>
    public void SetDescription(string calendarId, string? description) { lock (_gate) _calendars[calendarId].Description = description; }

    /// <summary>Another name for a calendar (Google resolves it; calendars.get answers the canonical id).</summary>
    public void AddAlias(string alias, string calendarId) { lock (_gate) _aliases[alias] = calendarId; }

    /// <summary>The owner stops sharing the calendar (or deletes it): every call about it is 404.</summary>
    public void RemoveCalendar(string calendarId) { lock (_gate) _calendars.Remove(calendarId); }

    /// <summary>The next <paramref name="count"/> Calendar API calls answer <paramref name="status"/>.</summary>
    public void FailNext(int status, int count = 1) { lock (_gate) for (var i = 0; i < count; i++) _failures.Enqueue(status); }

    /// <summary>Like FailNext, but only event inserts (POST …/events) fail: the periodic sync running
    /// beside a push test cannot consume the injected failure.</summary>
    public void FailNextInsert(int status, int count = 1) { lock (_gate) for (var i = 0; i < count; i++) _insertFailures.Enqueue(status); }

    readonly Queue<int> _insertFailures = new();

    /// <summary>Every call naming <paramref name="calendarId"/> answers <paramref name="status"/> with Google's
    /// error body and <paramref name="reason"/> until <see cref="HealCalendar"/> (other calendars, and workers
    /// syncing them, are not touched).</summary>
    public void FailCalendar(string calendarId, int status, string reason, string message = "Calendar failure")
    {
        lock (_gate) _calendarFailures[calendarId] = (status, reason, message);
    }

    public void HealCalendar(string calendarId) { lock (_gate) _calendarFailures.Remove(calendarId); }

    readonly Dictionary<string, (int Status, string Reason, string Message)> _calendarFailures = new(StringComparer.Ordinal);

    /// <summary>A surgeon blocking time (not a Frontdesk event).</summary>
    public string AddEvent(string calendarId, DateTimeOffset start, DateTimeOffset end, bool transparent = false)
    {
        var id = "staff" + Guid.NewGuid().ToString("N");
        lock (_gate)
            _calendars[calendarId].Events[id] = new Ev
            {
                Id = id, Seq = ++_seq,
                Body = new JsonObject
                {
                    ["summary"] = "Surgery list",
                    ["start"] = new JsonObject { ["dateTime"] = start.ToUniversalTime().ToString("O") },
                    ["end"] = new JsonObject { ["dateTime"] = end.ToUniversalTime().ToString("O") },
                    ["transparency"] = transparent ? "transparent" : "opaque",
                },
            };
        return id;
    }

    /// <summary>Adds many staff events at once (bench).</summary>
    public void AddEvents(string calendarId, IEnumerable<(DateTimeOffset Start, DateTimeOffset End)> events)
    {
        foreach (var (s, e) in events) AddEvent(calendarId, s, e);
    }

    public void DeleteEvent(string calendarId, string eventId)
    {
        lock (_gate)
        {
            var ev = _calendars[calendarId].Events[eventId];
            ev.Status = "cancelled";
            ev.Seq = ++_seq;
        }
    }

    /// <summary>Every sync token issued so far for the calendar is now expired (410 Gone).</summary>
    public void ExpireSyncTokens(string calendarId) { lock (_gate) _calendars[calendarId].MinValidToken = _seq + 1; }

    public Ev? Event(string calendarId, string eventId)
    {
        lock (_gate) return _calendars.TryGetValue(calendarId, out var c) && c.Events.TryGetValue(eventId, out var e) ? e : null;
    }

    public IReadOnlyList<Ev> LiveEvents(string calendarId)
    {
        lock (_gate) return _calendars[calendarId].Events.Values.Where(e => e.Status != "cancelled").ToList();
    }

    public int CountCalls(string method, string pathContains, int? status = null)
    {
        lock (_gate) return Calls.Count(c => c.Method == method && c.Path.Contains(pathContains, StringComparison.Ordinal) && (status is null || c.Status == status));
    }

    // ---- wire protocol -------------------------------------------------------------------------

    void Map()
    {
        _app.MapPost("/token", (Delegate)Token);
        _app.MapPost("/calendar/v3/calendars/{calendarId}/events", (Delegate)Insert);
        _app.MapMethods("/calendar/v3/calendars/{calendarId}/events/{eventId}", ["PATCH"], (Delegate)Patch);
        _app.MapDelete("/calendar/v3/calendars/{calendarId}/events/{eventId}", (Delegate)Delete);
        _app.MapGet("/calendar/v3/calendars/{calendarId}/events", (Delegate)List);
        _app.MapPost("/calendar/v3/freeBusy", (Delegate)FreeBusy);
        _app.MapPost("/calendar/v3/calendars/{calendarId}/events/watch", (Delegate)Watch);
        _app.MapPost("/calendar/v3/channels/stop", (Delegate)Stop);
        _app.MapGet("/calendar/v3/calendars/{calendarId}", (Delegate)GetCalendar);
    }

    static IResult Error(int code, string reason, string message, string domain = "global") => Results.Json(new JsonObject
    {
        ["error"] = new JsonObject
        {
            ["code"] = code,
            ["message"] = message,
            ["errors"] = new JsonArray(new JsonObject { ["domain"] = domain, ["reason"] = reason, ["message"] = message }),
        },
    }, statusCode: code);

    async Task<IResult> Token(HttpContext http)
    {
        Interlocked.Increment(ref _tokenRequests);
        if (Down) return Results.Json(new { error = "temporarily_unavailable" }, statusCode: 503);
        var form = await http.Request.ReadFormAsync();
        if (form["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer")
            return Results.Json(new { error = "unsupported_grant_type" }, statusCode: 400);
        var parts = form["assertion"].ToString().Split('.');
        if (parts.Length != 3) return Results.Json(new { error = "invalid_grant", error_description = "malformed assertion" }, statusCode: 400);
        var header = JsonNode.Parse(B64(parts[0]))!;
        var claims = JsonNode.Parse(B64(parts[1]))!;
        var signed = _key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), B64(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var scopes = (claims["scope"]?.GetValue<string>() ?? "").Split(' ');
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string? problem = header["alg"]?.GetValue<string>() != "RS256" ? "alg" : !signed ? "Invalid JWT Signature."
            : claims["iss"]?.GetValue<string>() != ClientEmail ? "iss" : claims["aud"]?.GetValue<string>() is not { } aud || (aud != GoogleTokenAudience && aud != TokenUri) ? "aud"
            : !scopes.Contains(EventsScope) || !scopes.Contains(FreeBusyScope) ? "scope"
            : claims["exp"]!.GetValue<long>() < now || claims["iat"]!.GetValue<long>() > now + 300 ? "Invalid JWT: Token must be a short-lived token" : null;
        if (problem is not null)
            return Results.Json(new { error = "invalid_grant", error_description = problem }, statusCode: 400);
        var token = "ya29." + Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
        lock (_gate) _tokens.Add(token, scopes);
        return Results.Json(new { access_token = token, expires_in = 3599, token_type = "Bearer" });
    }

    static byte[] B64(string s)
    {
        s = s.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + (4 - s.Length % 4) % 4, '='));
    }

    /// <summary>Down, bearer check, injected failure, calendar lookup — what every API call passes.</summary>
    IResult? Gate(HttpContext http, string? calendarId, out Cal? cal)
    {
        cal = null;
        IResult? result = null;
        var status = 0;
        if (Down) { status = 503; result = Error(503, "backendError", "Backend Error"); }
        else
        {
            var auth = http.Request.Headers.Authorization.ToString();
            bool known;
            lock (_gate) known = auth.StartsWith("Bearer ", StringComparison.Ordinal) && _tokens.ContainsKey(auth[7..]);
            if (!known)
            {
                Interlocked.Increment(ref _rejectedBearer);
                status = 401;
                result = Error(401, "authError", "Invalid Credentials");
            }
            else
            {
                lock (_gate)
                {
                    var isInsert = http.Request.Method == "POST" && http.Request.Path.Value?.EndsWith("/events", StringComparison.Ordinal) == true;
                    if (_failures.Count > 0 || (isInsert && _insertFailures.Count > 0))
                    {
                        status = _failures.Count > 0 ? _failures.Dequeue() : _insertFailures.Dequeue();
                        result = status == 429 ? Error(429, "rateLimitExceeded", "Rate Limit Exceeded", "usageLimits")
                               : Error(status, "backendError", "Backend Error");
                    }
                    else if (calendarId is not null && _calendarFailures.TryGetValue(calendarId, out var failure))
                    {
                        status = failure.Status;
                        result = Error(failure.Status, failure.Reason, failure.Message, failure.Reason.Contains("RateLimit", StringComparison.OrdinalIgnoreCase) ? "usageLimits" : "global");
                    }
                    else if (calendarId is not null && !_calendars.TryGetValue(calendarId, out cal))
                    {
                        status = 404;
                        result = Error(404, "notFound", "Not Found");
                    }
                }
            }
        }
        if (result is not null)
            lock (_gate) Calls.Add((http.Request.Method, http.Request.Path, status, false));
        return result;
    }

    void Record(HttpContext http, int status, bool withSyncToken = false)
    {
        lock (_gate) Calls.Add((http.Request.Method, http.Request.Path, status, withSyncToken));
    }

    [GeneratedRegex("^[a-v0-9]{5,1024}$")]
    private static partial Regex EventIdRule();

    async Task<IResult> Insert(HttpContext http, string calendarId)
    {
        if (Gate(http, calendarId, out var cal) is { } failed) return failed;
        var body = (await JsonNode.ParseAsync(http.Request.Body))!.AsObject();
        var id = body["id"]?.GetValue<string>() ?? Guid.NewGuid().ToString("N");
        if (!EventIdRule().IsMatch(id)) { Record(http, 400); return Error(400, "invalid", "Invalid resource id value."); }
        if (body["start"]?["dateTime"] is null || body["end"]?["dateTime"] is null) { Record(http, 400); return Error(400, "required", "Missing time"); }
        Ev ev;
        lock (_gate)
        {
            if (cal!.Events.ContainsKey(id)) { Calls.Add(("POST", http.Request.Path, 409, false)); return Error(409, "duplicate", "The requested identifier already exists."); }
            body.Remove("id");
            ev = new Ev { Id = id, Body = body, Seq = ++_seq };
            cal.Events[id] = ev;
        }
        if (DelayNextInsert is { } delay)
        {
            DelayNextInsert = null;
            await Task.Delay(delay, CancellationToken.None);
        }
        Record(http, 200);
        return Results.Json(Render(ev));
    }

    async Task<IResult> Patch(HttpContext http, string calendarId, string eventId)
    {
        if (Gate(http, calendarId, out var cal) is { } failed) return failed;
        var patch = (await JsonNode.ParseAsync(http.Request.Body))!.AsObject();
        lock (_gate)
        {
            if (!cal!.Events.TryGetValue(eventId, out var ev)) { Calls.Add(("PATCH", http.Request.Path, 404, false)); return Error(404, "notFound", "Not Found"); }
            if (ev.Status == "cancelled") { Calls.Add(("PATCH", http.Request.Path, 410, false)); return Error(410, "deleted", "Resource has been deleted"); }
            foreach (var (k, v) in patch.ToList()) ev.Body[k] = v?.DeepClone();
            ev.Seq = ++_seq;
            Calls.Add(("PATCH", http.Request.Path, 200, false));
            return Results.Json(Render(ev));
        }
    }

    IResult Delete(HttpContext http, string calendarId, string eventId)
    {
        if (Gate(http, calendarId, out var cal) is { } failed) return failed;
        lock (_gate)
        {
            if (!cal!.Events.TryGetValue(eventId, out var ev)) { Calls.Add(("DELETE", http.Request.Path, 404, false)); return Error(404, "notFound", "Not Found"); }
            if (ev.Status == "cancelled") { Calls.Add(("DELETE", http.Request.Path, 410, false)); return Error(410, "deleted", "Resource has been deleted"); }
            ev.Status = "cancelled";
            ev.Seq = ++_seq;
            Calls.Add(("DELETE", http.Request.Path, 204, false));
            return Results.NoContent();
        }
    }

    async Task<IResult> List(HttpContext http, string calendarId)
    {
        if (Gate(http, calendarId, out var cal) is { } failed) return failed;
        if (DelayNextListOf is { } d && d.CalendarId == calendarId)
        {
            DelayNextListOf = null;
            await Task.Delay(d.Delay, CancellationToken.None);
        }
        var q = http.Request.Query;
        var syncToken = q["syncToken"].ToString();
        var pageToken = q["pageToken"].ToString();
        var max = int.TryParse(q["maxResults"], out var m) ? Math.Clamp(m, 1, 2500) : 250;
        var showDeleted = q["showDeleted"] == "true";
        lock (_gate)
        {
            long since = -1, snapshot = _seq;
            var offset = 0;
            if (pageToken.Length > 0)
            {
                var p = pageToken.Split(':');
                (offset, since, snapshot) = (int.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture),
                    long.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture), long.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture));
            }
            else if (syncToken.Length > 0)
            {
                if (!syncToken.StartsWith("sync-", StringComparison.Ordinal) || !long.TryParse(syncToken[5..], out since) || since < cal!.MinValidToken)
                {
                    Interlocked.Increment(ref _gone410);
                    Calls.Add(("GET", http.Request.Path, 410, true));
                    return Error(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.");
                }
            }
            // Incremental: every change since the token, deletions included. Full: live events (and
            // deleted ones when showDeleted).
            var all = cal!.Events.Values
                .Where(e => since >= 0 ? e.Seq > since : showDeleted || e.Status != "cancelled")
                .OrderBy(e => e.Id, StringComparer.Ordinal).ToList();
            var page = all.Skip(offset).Take(max).Select(Render).ToArray();
            var result = new JsonObject { ["kind"] = "calendar#events", ["items"] = new JsonArray(page) };
            if (offset + max < all.Count) result["nextPageToken"] = $"{offset + max}:{since}:{snapshot}";
            else result["nextSyncToken"] = $"sync-{snapshot}";
            Calls.Add(("GET", http.Request.Path, 200, syncToken.Length > 0));
            return Results.Json(result);
        }
    }

    static JsonObject Render(Ev e)
    {
        if (e.Status == "cancelled") return new JsonObject { ["kind"] = "calendar#event", ["id"] = e.Id, ["status"] = "cancelled" };
        var o = (JsonObject)e.Body.DeepClone();
        o["kind"] = "calendar#event";
        o["id"] = e.Id;
        o["status"] = e.Status;
        return o;
    }

    async Task<IResult> FreeBusy(HttpContext http)
    {
        if (Gate(http, null, out _) is { } failed) return failed;
        var body = (await JsonNode.ParseAsync(http.Request.Body))!;
        var min = DateTimeOffset.Parse(body["timeMin"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        var max = DateTimeOffset.Parse(body["timeMax"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        var calendars = new JsonObject();
        lock (_gate)
        {
            foreach (var item in body["items"]!.AsArray())
            {
                var id = item!["id"]!.GetValue<string>();
                if (FreeBusyErrors.Contains(id) || !_calendars.TryGetValue(id, out var cal))
                {
                    calendars[id] = new JsonObject
                    {
                        ["errors"] = new JsonArray(new JsonObject { ["domain"] = "global", ["reason"] = "notFound" }),
                        ["busy"] = new JsonArray(),
                    };
                    continue;
                }
                var periods = cal.Events.Values
                    .Where(e => e.Status != "cancelled" && !e.Transparent && e.End > min && e.Start < max)
                    .Select(e => (S: e.Start < min ? min : e.Start, E: e.End > max ? max : e.End))
                    .OrderBy(p => p.S).ToList();
                var merged = new List<(DateTimeOffset S, DateTimeOffset E)>();
                foreach (var p in periods)
                {
                    if (merged.Count > 0 && p.S <= merged[^1].E) merged[^1] = (merged[^1].S, p.E > merged[^1].E ? p.E : merged[^1].E);
                    else merged.Add(p);
                }
                calendars[id] = new JsonObject
                {
                    ["busy"] = new JsonArray(merged.Select(p => (JsonNode)new JsonObject
                    {
                        ["start"] = p.S.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
                        ["end"] = p.E.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
                    }).ToArray()),
                };
            }
            Calls.Add(("POST", "/calendar/v3/freeBusy", 200, false));
        }
        return Results.Json(new JsonObject
        {
            ["kind"] = "calendar#freeBusy", ["timeMin"] = body["timeMin"]!.DeepClone(), ["timeMax"] = body["timeMax"]!.DeepClone(),
            ["calendars"] = calendars,
        });
    }

    async Task<IResult> Watch(HttpContext http, string calendarId)
    {
        if (Gate(http, calendarId, out _) is { } failed) return failed;
        var body = (await JsonNode.ParseAsync(http.Request.Body))!;
        if (body["type"]?.GetValue<string>() != "web_hook" || body["address"]?.GetValue<string>() is not { } address
            || !address.StartsWith("https://", StringComparison.Ordinal))
            return Error(400, "pushWebhookBadDomain", "WebHook callback must be HTTPS");
        var resourceId = "res" + Guid.NewGuid().ToString("N");
        var id = body["id"]!.GetValue<string>();
        var token = body["token"]?.GetValue<string>() ?? "";
        lock (_gate)
        {
            Channels.Add((calendarId, id, token, resourceId, address));
            Calls.Add(("POST", http.Request.Path, 200, false));
        }
        return Results.Json(new JsonObject
        {
            ["kind"] = "api#channel", ["id"] = id, ["resourceId"] = resourceId,
            ["resourceUri"] = $"{BaseUrl}/calendar/v3/calendars/{Uri.EscapeDataString(calendarId)}/events",
            ["token"] = token,
            ["expiration"] = DateTimeOffset.UtcNow.AddDays(7).ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
    }

    async Task<IResult> Stop(HttpContext http)
    {
        if (Gate(http, null, out _) is { } failed) return failed;
        var body = (await JsonNode.ParseAsync(http.Request.Body))!;
        lock (_gate) Channels.RemoveAll(c => c.Id == body["id"]?.GetValue<string>());
        return Results.NoContent();
    }

    /// <summary>calendars.get: the calendar's metadata, for a token with a calendar-read scope.</summary>
    IResult GetCalendar(HttpContext http, string calendarId)
    {
        string? canonical;
        lock (_gate) canonical = _aliases.GetValueOrDefault(calendarId) ?? calendarId;
        if (Gate(http, canonical, out var cal) is { } failed) return failed;
        lock (_gate)
        {
            var scopes = _tokens[http.Request.Headers.Authorization.ToString()[7..]];
            if (!scopes.Any(CalendarReadScopes.Contains))
            {
                Calls.Add(("GET", http.Request.Path, 403, false));
                return Error(403, "insufficientPermissions", "Request had insufficient authentication scopes.");
            }
            Calls.Add(("GET", http.Request.Path, 200, false));
            var body = new JsonObject
            {
                ["kind"] = "calendar#calendar",
                ["etag"] = "\"" + cal!.GetHashCode().ToString(System.Globalization.CultureInfo.InvariantCulture) + "\"",
                ["id"] = canonical,
                ["summary"] = canonical,
                ["timeZone"] = "Europe/London",
                ["conferenceProperties"] = new JsonObject { ["allowedConferenceSolutionTypes"] = new JsonArray("hangoutsMeet") },
            };
            if (cal.Description is not null) body["description"] = cal.Description;
            return Results.Json(body);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _key.Dispose();
        try { File.Delete(CredentialsPath); } catch (IOException) { }
    }
}
