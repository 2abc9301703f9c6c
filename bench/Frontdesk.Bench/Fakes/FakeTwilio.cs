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

/// <summary>A failure the fake produces on purpose.</summary>
public enum TwilioFault
{
    /// <summary>Creates the message, then answers 500 20500 (Twilio's documented hazard for non-idempotent POSTs).</summary>
    AcceptThen500,
    /// <summary>Creates the message, then answers nothing until the client gives up.</summary>
    AcceptThenHang,
    /// <summary>Answers nothing and creates nothing until the client gives up.</summary>
    Hang,
    /// <summary>429 20429 with Retry-After (seconds: <see cref="FakeTwilio.RetryAfterSeconds"/>); nothing created.</summary>
    TooManyRequests,
    /// <summary>503 20503 before anything is created.</summary>
    Unavailable,
    /// <summary>Creates the message and answers 201 after <see cref="FakeTwilio.SlowFor"/> (a send still in flight).</summary>
    SlowAccept,
}

/// <summary>
/// Twilio's Messages API on loopback (Kestrel, 127.0.0.1): Basic auth against the account, form
/// fields, 201 bodies with a sid, error bodies {code, message, more_info, status}, the Messages list
/// (GET with To, From, DateSent / DateSent&gt; / DateSent&lt; filters, newest first, PageSize and
/// next_page_uri paging), scripted failures per recipient (429/20429, 5xx, 21610, 21211…), faults on
/// purpose (5xx after creating, hangs, 429 with Retry-After; per recipient or at random rates) and
/// outages (<see cref="DownAsync"/>: connection refused). Records every message it created.
/// </summary>
public sealed class FakeTwilio : IAsyncDisposable
{
    public const string AccountSid = "AC0123456789abcdef0123456789abcdef";
    public const string AuthToken = "fake-twilio-auth-token-0123456789";
    public const string From = "+15005550006";

    readonly ConcurrentQueue<FakeSms> _accepted = new();
    readonly ConcurrentDictionary<string, ConcurrentQueue<(int Status, int Code)>> _scripts = new();
    readonly ConcurrentDictionary<string, int> _attempts = new();
    readonly ConcurrentDictionary<string, ConcurrentQueue<TwilioFault>> _faults = new();
    WebApplication? _app;

    /// <summary>How long a hang lasts (longer than the client's timeout).</summary>
    public TimeSpan HangFor { get; set; } = TimeSpan.FromSeconds(60);
    public int RetryAfterSeconds { get; set; } = 1;
    /// <summary>How long a <see cref="TwilioFault.SlowAccept"/> takes.</summary>
    public TimeSpan SlowFor { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Random faults for every create, as probabilities (fault runs); all zero by default.</summary>
    public Dictionary<TwilioFault, double> FaultRates { get; } = [];
    int _lists;
    public int Lists => _lists;

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

    /// <summary>The next creates for <paramref name="to"/> fail on purpose, in order (before any <see cref="Script"/>).</summary>
    public void Fault(string to, params TwilioFault[] faults)
    {
        var q = _faults.GetOrAdd(to, _ => new ConcurrentQueue<TwilioFault>());
        foreach (var f in faults) q.Enqueue(f);
    }

    /// <summary>A message that reached Twilio some other way (another sender, the console).</summary>
    public FakeSms Seed(string to, string body, DateTimeOffset at)
    {
        var m = new FakeSms("SM" + Guid.NewGuid().ToString("N"), to, From, null, body, null, at, System.Diagnostics.Stopwatch.GetTimestamp());
        _accepted.Enqueue(m);
        return m;
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
        app.MapGet("/2010-04-01/Accounts/{sid}/Messages.json", List);
        await app.StartAsync();
        Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        _app = app;
    }

    bool Authorized(string sid, HttpRequest request)
    {
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{AccountSid}:{AuthToken}"));
        if (request.Headers.Authorization.ToString() == expected && sid == AccountSid) return true;
        Interlocked.Increment(ref _badAuth);
        return false;
    }

    TwilioFault? NextFault(string to)
    {
        if (_faults.TryGetValue(to, out var q) && q.TryDequeue(out var f)) return f;
        if (FaultRates.Count == 0) return null;
        var roll = Random.Shared.NextDouble();
        foreach (var (fault, p) in FaultRates)
        {
            if (roll < p) return fault;
            roll -= p;
        }
        return null;
    }

    async Task<IResult> Create(string sid, HttpRequest request, HttpContext http)
    {
        if (!Authorized(sid, request)) return Error(401, 20003, "Authenticate");
        var form = await request.ReadFormAsync();
        var to = form["To"].ToString();
        var body = form["Body"].ToString();
        if (to.Length == 0) return Error(400, 21604, "A 'To' phone number is required.");
        if (body.Length == 0) return Error(400, 21602, "Message body is required.");
        if (body.Length > 1600) return Error(400, 21617, "The concatenated message body exceeds the 1600 character limit.");
        if (form["From"].Count == 0 && form["MessagingServiceSid"].Count == 0) return Error(400, 21603, "A 'From' phone number is required.");
        _attempts.AddOrUpdate(to, 1, (_, n) => n + 1);
        var fault = NextFault(to);
        switch (fault)
        {
            case TwilioFault.Hang:
                await HangAsync(http);
                return Error(504, 20504, "Gateway timeout");
            case TwilioFault.TooManyRequests:
                http.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Error(429, 20429, "Too Many Requests");
            case TwilioFault.Unavailable:
                return Error(503, 20503, "Service unavailable");
        }
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
        switch (fault)
        {
            case TwilioFault.AcceptThen500:
                return Error(500, 20500, "Internal Server Error");
            case TwilioFault.AcceptThenHang:
                await HangAsync(http);
                return Error(504, 20504, "Gateway timeout");
            case TwilioFault.SlowAccept:
                await Task.Delay(SlowFor, CancellationToken.None);
                break;
        }
        return Results.Json(Resource(accepted), statusCode: 201);
    }

    async Task HangAsync(HttpContext http)
    {
        try { await Task.Delay(HangFor, http.RequestAborted); }
        catch (OperationCanceledException) { }
    }

    static string TwilioDate(DateTimeOffset at) =>
        at.ToUniversalTime().ToString("ddd, dd MMM yyyy HH:mm:ss '+0000'", System.Globalization.CultureInfo.InvariantCulture);

    // The Message resource as Twilio serializes it (snake_case, RFC 2822 dates); the fake "sends" at once.
    static object Resource(FakeSms m) => new
    {
        sid = m.Sid, account_sid = AccountSid, to = m.To, from = m.From, messaging_service_sid = m.MessagingServiceSid, body = m.Body,
        status = "queued", num_segments = "1", num_media = "0", direction = "outbound-api", api_version = "2010-04-01",
        date_created = TwilioDate(m.At), date_updated = TwilioDate(m.At), date_sent = TwilioDate(m.At),
        error_code = (int?)null, error_message = (string?)null, price = (string?)null, price_unit = "USD",
        uri = $"/2010-04-01/Accounts/{AccountSid}/Messages/{m.Sid}.json",
    };

    /// <summary>GET Messages.json: To, From, DateSent (YYYY-MM-DD, or DateSent&gt; / DateSent&lt; for on-or-after /
    /// on-or-before, UTC), newest first; PageSize (default 50, at most 1000) and Page.</summary>
    IResult List(string sid, HttpRequest request)
    {
        if (!Authorized(sid, request)) return Error(401, 20003, "Authenticate");
        Interlocked.Increment(ref _lists);
        var q = request.Query;
        static DateOnly? Day(string? s) => DateOnly.TryParseExact(s, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.None, out var d) ? d : null;
        string? bad = null;
        DateOnly? on = null, after = null, before = null;
        if (q.TryGetValue("DateSent", out var ds) && (on = Day(ds)) is null) bad = "DateSent";
        if (q.TryGetValue("DateSent>", out var da) && (after = Day(da)) is null) bad = "DateSent>";
        if (q.TryGetValue("DateSent<", out var db) && (before = Day(db)) is null) bad = "DateSent<";
        if (bad is not null) return Error(400, 20001, $"Invalid {bad}: expected YYYY-MM-DD");
        var pageSize = int.TryParse(q["PageSize"], out var ps) ? Math.Clamp(ps, 1, 1000) : 50;
        var page = int.TryParse(q["Page"], out var pg) ? Math.Max(0, pg) : 0;
        var to = q["To"].ToString();
        var from = q["From"].ToString();
        var matches = _accepted
            .Where(m => to.Length == 0 || m.To == to)
            .Where(m => from.Length == 0 || m.From == from)
            .Where(m =>
            {
                var day = DateOnly.FromDateTime(m.At.UtcDateTime);
                return (on is null || day == on) && (after is null || day >= after) && (before is null || day <= before);
            })
            .OrderByDescending(m => m.At)
            .ToList();
        var items = matches.Skip(page * pageSize).Take(pageSize).Select(Resource).ToList();
        var path = $"/2010-04-01/Accounts/{AccountSid}/Messages.json";
        string Uri(int p)
        {
            var keep = q.Where(kv => kv.Key is not ("Page" or "PageSize" or "PageToken"))
                .Select(kv => $"{System.Uri.EscapeDataString(kv.Key)}={System.Uri.EscapeDataString(kv.Value.ToString())}");
            return path + "?" + string.Join('&', keep.Append($"PageSize={pageSize}").Append($"Page={p}").Append($"PageToken=PA{p}"));
        }
        return Results.Json(new
        {
            messages = items,
            start = page * pageSize,
            end = page * pageSize + Math.Max(0, items.Count - 1),
            page,
            page_size = pageSize,
            uri = Uri(page),
            first_page_uri = Uri(0),
            previous_page_uri = page > 0 ? Uri(page - 1) : null,
            next_page_uri = (page + 1) * pageSize < matches.Count ? Uri(page + 1) : null,
        });
    }

    static IResult Error(int status, int code, string message) => Results.Json(new
    {
        code, message, more_info = $"https://www.twilio.com/docs/errors/{code}", status,
    }, statusCode: status);

    public async ValueTask DisposeAsync() => await DownAsync();
}
