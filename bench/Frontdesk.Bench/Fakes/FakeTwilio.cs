using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Bench;

public sealed record ReceivedSms(string Sid, string To, string From, string Body, long ReceivedTimestamp);

/// <summary>A loopback Twilio Messages API: checks Basic auth, answers 201 with Twilio's JSON shape,
/// and records each message with the time it arrived.</summary>
public sealed class FakeTwilio : IAsyncDisposable
{
    public const string AccountSid = "ACfa4e000000000000000000000000beef";
    public const string AuthToken = "fake-twilio-auth-token-0123456789";
    readonly WebApplication _app;

    public ConcurrentQueue<ReceivedSms> Messages { get; } = new();
    public string Url { get; }

    FakeTwilio(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public static async Task<FakeTwilio> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeTwilio? self = null;
        var expectedAuth = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{AccountSid}:{AuthToken}"));
        app.MapPost("/2010-04-01/Accounts/{sid}/Messages.json", async (string sid, HttpContext http) =>
        {
            if (sid != AccountSid || http.Request.Headers.Authorization.ToString() != expectedAuth)
                return Results.Json(new { code = 20003, message = "Authenticate", more_info = "https://www.twilio.com/docs/errors/20003", status = 401 }, statusCode: 401);
            var form = await http.Request.ReadFormAsync();
            var msg = new ReceivedSms("SM" + Guid.NewGuid().ToString("N"), form["To"].ToString(),
                form["From"].ToString() is { Length: > 0 } f ? f : form["MessagingServiceSid"].ToString(), form["Body"].ToString(), Stopwatch.GetTimestamp());
            self!.Messages.Enqueue(msg);
            return Results.Json(new
            {
                sid = msg.Sid, account_sid = AccountSid, to = msg.To, from = msg.From, body = msg.Body, status = "queued",
                num_segments = "1", direction = "outbound-api", api_version = "2010-04-01",
                date_created = DateTimeOffset.UtcNow.ToString("r"), uri = $"/2010-04-01/Accounts/{AccountSid}/Messages/{msg.Sid}.json",
            }, statusCode: 201);
        });
        await app.StartAsync();
        self = new FakeTwilio(app, app.Urls.First());
        return self;
    }

    /// <summary>Waits for a message to <paramref name="to"/> that arrived after <paramref name="sinceTimestamp"/>.</summary>
    public async Task<ReceivedSms?> WaitForAsync(string to, long sinceTimestamp, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            var m = Messages.FirstOrDefault(x => x.To == to && x.ReceivedTimestamp >= sinceTimestamp);
            if (m is not null) return m;
            await Task.Delay(10);
        }
        return null;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
