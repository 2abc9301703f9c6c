using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Bench;

/// <summary>A message the fake accepted; ReceivedTimestamp is Stopwatch ticks, for latency measurements.</summary>
public sealed record FakeSms(string Sid, string To, string? From, string? MessagingServiceSid, string Body, string? StatusCallback, DateTimeOffset At, long ReceivedTimestamp);

/// <summary>
/// Twilio's Messages API on loopback (Kestrel, 127.0.0.1): Basic auth against the account, form
/// fields, 201 bodies with a sid, error bodies {code, message, more_info, status}, and scripted
/// failures per recipient (429/20429, 5xx, 21610, 21211…). Records every accepted message.
/// </summary>
public sealed class FakeTwilio : IAsyncDisposable
{
    public const string AccountSid = "AC0123456789abcdef0123456789abcdef";
    public const string AuthToken = "fake-twilio-auth-token-0123456789";
    public const string From = "+15005550006";

    readonly ConcurrentQueue<FakeSms> _accepted = new();
    readonly ConcurrentDictionary<string, ConcurrentQueue<(int Status, int Code)>> _scripts = new();
    readonly ConcurrentDictionary<string, int> _attempts = new();
    WebApplication? _app;

    public int Port { get; private set; }

    /// <summary>Called for every accepted message (benchmarks record arrival times with it).</summary>
    public Action<FakeSms>? OnAccepted { get; set; }
    public string Url => $"http://127.0.0.1:{Port}";
    public IReadOnlyCollection<FakeSms> Accepted => _accepted;
    int _badAuth;
    public int BadAuth => _badAuth;

    public static async Task<FakeTwilio> StartAsync()
    {
        var fake = new FakeTwilio();
        await fake.UpAsync(0);
        return fake;
    }

    /// <summary>The next responses for <paramref name="to"/>, in order; after them, 201.</summary>
    public void Script(string to, params (int Status, int Code)[] responses)
    {
        var q = _scripts.GetOrAdd(to, _ => new ConcurrentQueue<(int, int)>());
        foreach (var r in responses) q.Enqueue(r);
    }

    public int AttemptsFor(string to) => _attempts.TryGetValue(to, out var n) ? n : 0;

    public IReadOnlyList<FakeSms> For(string to) => _accepted.Where(m => m.To == to).ToList();

    public async Task<FakeSms> WaitForAsync(string to, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (_accepted.FirstOrDefault(m => m.To == to) is { } m) return m;
            await Task.Delay(20);
        }
        throw new TimeoutException($"no SMS to {to} within {timeout}");
    }

    /// <summary>A message to <paramref name="to"/> accepted after <paramref name="sinceTimestamp"/> (Stopwatch ticks), or null.</summary>
    public async Task<FakeSms?> WaitForAsync(string to, long sinceTimestamp, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (_accepted.FirstOrDefault(m => m.To == to && m.ReceivedTimestamp >= sinceTimestamp) is { } m) return m;
            await Task.Delay(10);
        }
        return null;
    }

    /// <summary>Stops listening: senders get "connection refused" until <see cref="UpAsync"/>.</summary>
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
        app.MapPost("/2010-04-01/Accounts/{sid}/Messages.json", Create);
        await app.StartAsync();
        Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        _app = app;
    }

    async Task<IResult> Create(string sid, HttpRequest request)
    {
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{AccountSid}:{AuthToken}"));
        if (request.Headers.Authorization.ToString() != expected || sid != AccountSid)
        {
            Interlocked.Increment(ref _badAuth);
            return Error(401, 20003, "Authenticate");
        }
        var form = await request.ReadFormAsync();
        var to = form["To"].ToString();
        var body = form["Body"].ToString();
        if (to.Length == 0) return Error(400, 21604, "A 'To' phone number is required.");
        if (body.Length == 0) return Error(400, 21602, "Message body is required.");
        if (body.Length > 1600) return Error(400, 21617, "The concatenated message body exceeds the 1600 character limit.");
        if (form["From"].Count == 0 && form["MessagingServiceSid"].Count == 0) return Error(400, 21603, "A 'From' phone number is required.");
        _attempts.AddOrUpdate(to, 1, (_, n) => n + 1);
        if (_scripts.TryGetValue(to, out var q) && q.TryDequeue(out var scripted))
            return Error(scripted.Status, scripted.Code, scripted.Code switch
            {
                20429 => "Too Many Requests",
                21610 => "Attempt to send to unsubscribed recipient",
                21211 => $"The 'To' number {to} is not a valid phone number.",
                _ => "Scripted failure",
            });
        var messageSid = "SM" + Guid.NewGuid().ToString("N");
        var accepted = new FakeSms(messageSid, to, form["From"].FirstOrDefault(), form["MessagingServiceSid"].FirstOrDefault(), body,
            form["StatusCallback"].FirstOrDefault(), DateTimeOffset.UtcNow, System.Diagnostics.Stopwatch.GetTimestamp());
        _accepted.Enqueue(accepted);
        OnAccepted?.Invoke(accepted);
        return Results.Json(new
        {
            sid = messageSid, account_sid = AccountSid, to, from = form["From"].FirstOrDefault(),
            messaging_service_sid = form["MessagingServiceSid"].FirstOrDefault(), body, status = "queued",
            num_segments = "1", direction = "outbound-api", api_version = "2010-04-01", error_code = (int?)null,
            uri = $"/2010-04-01/Accounts/{AccountSid}/Messages/{messageSid}.json",
        }, statusCode: 201);
    }

    static IResult Error(int status, int code, string message) => Results.Json(new
    {
        code, message, more_info = $"https://www.twilio.com/docs/errors/{code}", status,
    }, statusCode: status);

    public async ValueTask DisposeAsync() => await DownAsync();
}
