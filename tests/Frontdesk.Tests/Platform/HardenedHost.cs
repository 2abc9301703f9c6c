using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using Frontdesk.Bench;
using Frontdesk.Messaging;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Tests.Platform;

/// <summary>
/// The app with every edge open to input: Twilio configured (the shared loopback fake, so its outbox
/// sends nowhere else), an upstream LLM (loopback OpenAI fake) so the custom-LLM route parses its body,
/// and every error-level log line captured. Built once per test class from the "twilio" collection's app.
/// </summary>
public sealed class HardenedHost : IAsyncLifetime, IDisposable
{
    readonly SemaphoreSlim _gate = new(1, 1);
    WebApplicationFactory<Program>? _app;

    public FakeOpenAi Llm { get; private set; } = null!;
    public ErrorLog Errors { get; } = new();

    public async Task<WebApplicationFactory<Program>> AppAsync(TwilioFixture twilio)
    {
        if (_app is not null) return _app;
        await _gate.WaitAsync();
        try
        {
            if (_app is not null) return _app;
            Llm = await FakeOpenAi.StartAsync();
            var app = twilio.App.WithWebHostBuilder(b =>
            {
                b.UseSetting("FRONTDESK_LLM_BASE_URL", Llm.BaseUrl);
                b.UseSetting("FRONTDESK_LLM_API_KEY", "sk-test");
                b.UseSetting("FRONTDESK_LLM_MODEL", "fake-model");
                b.ConfigureServices(s => s.AddLogging(l => l.AddProvider(Errors)));
            });
            app.CreateClient().Dispose();
            return _app = app;
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
        if (Llm is not null) await Llm.DisposeAsync();
    }

    public void Dispose() => _gate.Dispose();

    /// <summary>A Twilio webhook POST signed the way Twilio's helper libraries sign it.</summary>
    public static HttpRequestMessage TwilioRequest(string path, HttpContent content, IEnumerable<KeyValuePair<string, string>> signedParams)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Add("X-Twilio-Signature", TwilioSignature.Compute(FakeTwilio.AuthToken, "https://frontdesk.test" + path, signedParams));
        return request;
    }

    public static HttpClient VapiClient(WebApplicationFactory<Program> app, string secret)
    {
        var c = app.CreateClient();
        c.DefaultRequestHeaders.Add("X-Vapi-Secret", secret);
        return c;
    }

    public static HttpClient Bearer(WebApplicationFactory<Program> app, string token)
    {
        var c = app.CreateClient();
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return c;
    }

    public static ByteArrayContent Json(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    public static ByteArrayContent Json(string body) => Json(Encoding.UTF8.GetBytes(body));
}

/// <summary>Log entries from <see cref="MinimumLevel"/> up ("Level category: message exception"), for showing why a request failed.</summary>
public sealed class ErrorLog : ILoggerProvider
{
    public ConcurrentQueue<string> Entries { get; } = new();
    public LogLevel MinimumLevel { get; init; } = LogLevel.Error;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    sealed class Logger(ErrorLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= log.MinimumLevel;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= log.MinimumLevel)
                log.Entries.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception?.GetType().Name}: {exception?.Message}");
        }
    }
}
