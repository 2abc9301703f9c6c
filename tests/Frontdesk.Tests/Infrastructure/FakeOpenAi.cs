using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Tests.Infrastructure;

/// <summary>
/// A loopback OpenAI chat-completions server (Kestrel on 127.0.0.1:0) speaking the real streaming
/// wire format: <c>data: {chat.completion.chunk}</c> lines and <c>data: [DONE]</c>. It records when
/// each token was written and whether the client went away.
/// </summary>
public sealed class FakeOpenAi : IAsyncDisposable
{
    readonly WebApplication _app;

    public string BaseUrl { get; }
    public int Tokens { get; set; } = 50;
    public TimeSpan FirstTokenDelay { get; set; } = TimeSpan.Zero;
    public TimeSpan Gap { get; set; } = TimeSpan.FromMilliseconds(20);
    /// <summary>After this many tokens the connection is cut (an upstream failing mid-answer).</summary>
    public int? FailAfter { get; set; }
    /// <summary>Answer with this HTTP status and an OpenAI error body instead of a stream (429 with Retry-After: 7).</summary>
    public int? ErrorStatus { get; set; }
    /// <summary>After this many tokens an OpenAI error event is sent and the stream ends (no [DONE]),
    /// as OpenAI does when it fails mid-answer.</summary>
    public int? ErrorEventAfter { get; set; }
    /// <summary>Answer with a tool call instead of text.</summary>
    public bool ToolCall { get; set; }

    public ConcurrentQueue<JsonElement> Requests { get; } = new();
    /// <summary>Stopwatch timestamps of each token written (index = token number).</summary>
    public ConcurrentDictionary<int, long> TokenWrittenAt { get; } = new();
    public TaskCompletionSource ClientGone { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    FakeOpenAi(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    public static async Task<FakeOpenAi> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeOpenAi? fake = null;
        app.MapPost("/v1/chat/completions", (HttpContext http) => fake!.Handle(http));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake = new FakeOpenAi(app, address + "/v1");
        return fake;
    }

    async Task Handle(HttpContext http)
    {
        var ct = http.RequestAborted;
        ct.Register(() => ClientGone.TrySetResult());
        using var doc = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: ct);
        Requests.Enqueue(doc.RootElement.Clone());
        if (ErrorStatus is { } status)
        {
            http.Response.StatusCode = status;
            if (status == 429) http.Response.Headers.RetryAfter = "7";
            await http.Response.WriteAsJsonAsync(status == 429
                ? new { error = new { message = "Rate limit reached for fake-model in organization org-secret on requests per min.", type = "requests", code = (string?)"rate_limit_exceeded" } }
                : new { error = new { message = "The server had an error", type = "server_error", code = (string?)null } }, ct);
            return;
        }
        var stream = doc.RootElement.TryGetProperty("stream", out var s) && s.GetBoolean();
        var usage = doc.RootElement.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
                    && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;
        if (!stream)
        {
            await http.Response.WriteAsJsonAsync(new
            {
                id = "chatcmpl-fake", @object = "chat.completion", created = 1_700_000_000, model = "fake-model",
                choices = new[] { new { index = 0, message = new { role = "assistant", content = "Hello there." }, finish_reason = "stop" } },
                usage = new { prompt_tokens = 10, completion_tokens = 3, total_tokens = 13 },
            }, ct);
            return;
        }
        http.Response.ContentType = "text/event-stream";
        try
        {
            await Task.Delay(FirstTokenDelay, ct);
            if (ToolCall)
            {
                await Write(http, """{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"book_appointment","arguments":""}}]},"finish_reason":null}]}""", ct);
                await Write(http, """{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"slotId\":\"s-1\"}"}}]},"finish_reason":null}]}""", ct);
                await Write(http, """{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}""", ct);
            }
            else
            {
                for (var i = 0; i < Tokens; i++)
                {
                    if (i > 0) await Task.Delay(Gap, ct);
                    if (FailAfter == i)
                    {
                        http.Abort();
                        return;
                    }
                    if (ErrorEventAfter == i)
                    {
                        await Write(http, """{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}""", ct);
                        return;
                    }
                    var chunk = JsonSerializer.Serialize(new
                    {
                        id = "chatcmpl-fake", @object = "chat.completion.chunk", created = 1_700_000_000, model = "fake-model",
                        choices = new[] { new { index = 0, delta = new { content = $"t{i} " }, finish_reason = (string?)null } },
                    });
                    await Write(http, chunk, ct);
                    TokenWrittenAt[i] = Stopwatch.GetTimestamp();
                }
                await Write(http, """{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""", ct);
            }
            // With stream_options.include_usage, OpenAI ends with a chunk of no choices carrying the usage.
            if (usage)
                await Write(http, """{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":"fake-model","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":3,"total_tokens":13}}""", ct);
            await http.Response.WriteAsync("data: [DONE]\n\n", ct);
        }
        catch (OperationCanceledException)
        {
            ClientGone.TrySetResult();
        }
    }

    static async Task Write(HttpContext http, string json, CancellationToken ct)
    {
        await http.Response.WriteAsync("data: " + json + "\n\n", ct);
        await http.Response.Body.FlushAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
