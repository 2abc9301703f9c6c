using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Bench;

/// <summary>
/// Vapi's REST API on loopback, the part reconciliation reads: <c>GET /call</c> (List Calls) with a
/// private key as Bearer. Calls belong to the key (org) they were added under; the answer is a
/// JSON array of Call objects, newest first, at most <c>limit</c> (default 100, 1–1000 else 400),
/// filtered by <c>createdAtGt/Lt/Ge/Le</c>, <c>assistantId</c>, <c>phoneNumberId</c> and <c>id</c>.
/// Errors look like Vapi's (NestJS): <c>{message, error, statusCode}</c>. Scripted failures per key
/// (401, 429, 5xx) and a full outage (connection refused) exercise the client's error paths.
/// </summary>
public sealed class FakeVapi : IAsyncDisposable
{
    public const string OrgId = "5f1c0a6e-3c1e-4c57-9a0e-6f1b2a3c4d5e";

    readonly ConcurrentDictionary<string, ConcurrentDictionary<string, JsonObject>> _calls = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, ConcurrentQueue<(int Status, string? Body, TimeSpan Delay)>> _scripts = new(StringComparer.Ordinal);
    readonly ConcurrentQueue<string> _queries = new();
    WebApplication? _app;
    int _requests;

    public int Port { get; private set; }
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Every List Calls query string received, in order (after authentication).</summary>
    public IReadOnlyCollection<string> Queries => _queries;

    /// <summary>Every request received, authenticated or not.</summary>
    public int Requests => _requests;

    public static async Task<FakeVapi> StartAsync()
    {
        var fake = new FakeVapi();
        await fake.UpAsync(0);
        return fake;
    }

    /// <summary>A private key Vapi accepts (an org with no calls yet).</summary>
    public void AddKey(string apiKey) => _calls.GetOrAdd(apiKey, _ => new(StringComparer.Ordinal));

    /// <summary>Adds (or replaces, by id) a call in the key's org.</summary>
    public void AddCall(string apiKey, JsonObject call) =>
        _calls.GetOrAdd(apiKey, _ => new(StringComparer.Ordinal))[call["id"]!.GetValue<string>()] = call;

    /// <summary>The next List Calls answers for this key, in order; after them, 200.</summary>
    public void Script(string apiKey, params int[] statuses)
    {
        foreach (var s in statuses) ScriptRaw(apiKey, s, null);
    }

    /// <summary>The next answer for this key: <paramref name="body"/> as is (null: Vapi's error body for
    /// the status), after <paramref name="delay"/> — what a proxy in front of Vapi, or a slow Vapi, does.</summary>
    public void ScriptRaw(string apiKey, int status, string? body, TimeSpan delay = default) =>
        _scripts.GetOrAdd(apiKey, _ => new()).Enqueue((status, body, delay));

    /// <summary>A Call as Vapi returns it after the call ended (inbound phone call, Twilio transport).</summary>
    public static JsonObject EndedCall(string id, string customerNumber, string transcript, DateTimeOffset createdAt, DateTimeOffset endedAt,
        string endedReason = "customer-ended-call", string? assistantId = null, string? phoneNumberId = null, JsonObject? structuredData = null,
        string status = "ended")
    {
        var started = createdAt.AddSeconds(2);
        return new JsonObject
        {
            ["id"] = id,
            ["orgId"] = OrgId,
            ["createdAt"] = Iso(createdAt),
            ["updatedAt"] = Iso(endedAt.AddSeconds(3)),
            ["type"] = "inboundPhoneCall",
            ["status"] = status,
            ["endedReason"] = status == "ended" ? endedReason : null,
            ["startedAt"] = Iso(started),
            ["endedAt"] = status == "ended" ? Iso(endedAt) : null,
            ["cost"] = 0.0871,
            ["costBreakdown"] = new JsonObject { ["transport"] = 0.0085, ["stt"] = 0.0102, ["llm"] = 0.0214, ["tts"] = 0.027, ["vapi"] = 0.02, ["total"] = 0.0871 },
            ["phoneCallProvider"] = "twilio",
            ["phoneCallTransport"] = "pstn",
            ["phoneCallProviderId"] = "CA" + Guid.NewGuid().ToString("N"),
            ["assistantId"] = assistantId,
            ["phoneNumberId"] = phoneNumberId,
            ["customer"] = new JsonObject { ["number"] = customerNumber },
            ["analysis"] = new JsonObject
            {
                ["summary"] = "The caller asked about a treatment and hung up before booking.",
                ["structuredData"] = structuredData ?? new JsonObject(),
                ["successEvaluation"] = "false",
            },
            ["artifact"] = new JsonObject
            {
                ["transcript"] = transcript,
                ["messages"] = new JsonArray(
                    new JsonObject { ["role"] = "bot", ["message"] = "Hello, thank you for calling.", ["time"] = started.ToUnixTimeMilliseconds(), ["secondsFromStart"] = 0.4 },
                    new JsonObject { ["role"] = "user", ["message"] = transcript, ["time"] = started.ToUnixTimeMilliseconds() + 4000, ["secondsFromStart"] = 4.2 }),
                ["recordingUrl"] = $"https://storage.vapi.ai/{id}-mono.wav",
            },
        };
    }

    public static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Stops listening: clients get "connection refused" until <see cref="UpAsync"/>.</summary>
    public async Task DownAsync()
    {
        if (_app is null) return;
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = null;
    }

    /// <summary>Listens again on the same port (or a free one the first time).</summary>
    public async Task UpAsync(int? port = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port ?? Port}");
        var app = builder.Build();
        app.MapGet("/call", List);
        await app.StartAsync();
        Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        _app = app;
    }

    async Task<IResult> List(HttpRequest request)
    {
        Interlocked.Increment(ref _requests);
        var auth = request.Headers.Authorization.ToString();
        var key = auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth[7..] : "";
        if (!_calls.TryGetValue(key, out var org))
            return Error(401, "Invalid Key. Hot tip, you may be using the private key instead of the public key, or vice versa.");
        _queries.Enqueue(request.QueryString.Value ?? "");
        if (_scripts.TryGetValue(key, out var q) && q.TryDequeue(out var scripted))
        {
            if (scripted.Delay > TimeSpan.Zero) await Task.Delay(scripted.Delay, request.HttpContext.RequestAborted);
            if (scripted.Body is { } raw) return Results.Content(raw, "application/json", null, scripted.Status);
            return Error(scripted.Status, scripted.Status switch
            {
                401 => "Invalid Key. Hot tip, you may be using the private key instead of the public key, or vice versa.",
                429 => "ThrottlerException: Too Many Requests",
                _ => "Internal server error",
            });
        }

        var limit = 100;
        if (request.Query["limit"] is [{ } l] && (!int.TryParse(l, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 1000))
            return Error(400, new JsonArray("limit must not be greater than 1000", "limit must not be less than 0"));
        var filters = new List<Func<JsonObject, bool>>();
        foreach (var (name, keep) in new (string, Func<DateTimeOffset, DateTimeOffset, bool>)[]
                 {
                     ("createdAtGt", (c, v) => c > v), ("createdAtLt", (c, v) => c < v),
                     ("createdAtGe", (c, v) => c >= v), ("createdAtLe", (c, v) => c <= v),
                 })
        {
            if (request.Query[name] is not [{ } raw]) continue;
            if (!DateTimeOffset.TryParse(raw, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var bound))
                return Error(400, new JsonArray($"{name} must be a valid ISO 8601 date string"));
            filters.Add(call => keep(Created(call), bound));
        }
        foreach (var field in new[] { "id", "assistantId", "phoneNumberId" })
            if (request.Query[field] is [{ } wanted])
                filters.Add(call => call[field]?.GetValue<string>() == wanted);

        var page = org.Values.Where(c => filters.All(f => f(c))).OrderByDescending(Created).Take(limit)
            .Select(c => (JsonNode)c.DeepClone()).ToArray();
        return Results.Content(new JsonArray(page).ToJsonString(), "application/json");
    }

    static DateTimeOffset Created(JsonObject call) =>
        DateTimeOffset.Parse(call["createdAt"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    static IResult Error(int status, JsonNode message) => Results.Content(new JsonObject
    {
        ["message"] = message,
        ["error"] = status switch
        {
            400 => "Bad Request", 401 => "Unauthorized", 403 => "Forbidden", 429 => "Too Many Requests",
            502 => "Bad Gateway", 503 => "Service Unavailable", _ => "Internal Server Error",
        },
        ["statusCode"] = status,
    }.ToJsonString(), "application/json", null, status);

    public async ValueTask DisposeAsync() => await DownAsync();
}
