using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Bench;

/// <summary>A loopback OpenAI-compatible chat-completions server that streams tokens with a
/// configurable first-token delay and inter-token gap (the seed's 300 ms LLM budget by default).</summary>
public sealed class FakeLlm : IAsyncDisposable
{
    readonly WebApplication _app;
    public string Url { get; }
    public TimeSpan FirstToken { get; set; }
    public TimeSpan Gap { get; set; }
    public int Tokens { get; set; } = 30;
    int _requests;
    public int Requests => _requests;

    FakeLlm(WebApplication app, string url, TimeSpan first, TimeSpan gap)
    {
        _app = app;
        Url = url;
        FirstToken = first;
        Gap = gap;
    }

    public static async Task<FakeLlm> StartAsync(TimeSpan? firstToken = null, TimeSpan? gap = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeLlm? self = null;
        app.MapPost("/v1/chat/completions", async (HttpContext http) =>
        {
            Interlocked.Increment(ref self!._requests);
            using var doc = await JsonDocument.ParseAsync(http.Request.Body);
            var stream = doc.RootElement.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
            var usage = doc.RootElement.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
                        && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;
            var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
            var words = Enumerable.Range(0, self.Tokens).Select(i => i == 0 ? "Certainly" : $" word{i}").ToList();
            await Task.Delay(self.FirstToken, http.RequestAborted);
            if (!stream)
            {
                // A non-streamed answer arrives when the model has made its last token.
                await Task.Delay(self.Gap * (self.Tokens - 1), http.RequestAborted);
                await http.Response.WriteAsJsonAsync(new
                {
                    id, @object = "chat.completion", created = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), model = "fake",
                    choices = new[] { new { index = 0, message = new { role = "assistant", content = string.Concat(words) }, finish_reason = "stop" } },
                });
                return;
            }
            http.Response.ContentType = "text/event-stream";
            for (var i = 0; i < words.Count; i++)
            {
                if (i > 0) await Task.Delay(self.Gap, http.RequestAborted);
                var chunk = JsonSerializer.Serialize(new
                {
                    id, @object = "chat.completion.chunk", created = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), model = "fake",
                    choices = new[] { new { index = 0, delta = new { role = i == 0 ? "assistant" : null, content = words[i] }, finish_reason = (string?)null } },
                });
                await http.Response.WriteAsync($"data: {chunk}\n\n", http.RequestAborted);
                await http.Response.Body.FlushAsync(http.RequestAborted);
            }
            var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var done = JsonSerializer.Serialize(new { id, @object = "chat.completion.chunk", created, model = "fake", choices = new[] { new { index = 0, delta = new { }, finish_reason = "stop" } } });
            await http.Response.WriteAsync($"data: {done}\n\n", http.RequestAborted);
            // As OpenAI does with stream_options.include_usage: a last chunk of no choices with the usage.
            if (usage)
                await http.Response.WriteAsync("data: " + JsonSerializer.Serialize(new
                {
                    id, @object = "chat.completion.chunk", created, model = "fake", choices = Array.Empty<object>(),
                    usage = new { prompt_tokens = 40, completion_tokens = self.Tokens, total_tokens = 40 + self.Tokens },
                }) + "\n\n", http.RequestAborted);
            await http.Response.WriteAsync("data: [DONE]\n\n", http.RequestAborted);
        });
        await app.StartAsync();
        self = new FakeLlm(app, app.Urls.First(), firstToken ?? TimeSpan.FromMilliseconds(300), gap ?? TimeSpan.FromMilliseconds(15));
        return self;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
