using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Bench;

/// <summary>
/// A loopback OpenAI-compatible <c>POST /v1/embeddings</c>. Vectors are deterministic "concept"
/// counts: each word maps to a concept (several words may share one, which is what makes a vector
/// search find what a word search misses), so tests can reason about similarity. Answers float
/// arrays, or base64 of little-endian float32 when the client asks for encoding_format=base64.
/// </summary>
public sealed class FakeEmbeddings : IAsyncDisposable
{
    readonly WebApplication _app;
    public string Url { get; }
    int _requests;
    public int Requests => _requests;
    public bool Down { get; set; }

    FakeEmbeddings(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public static async Task<FakeEmbeddings> StartAsync(IReadOnlyDictionary<string, int> concepts, int dimensions)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeEmbeddings? self = null;
        app.MapPost("/v1/embeddings", async (HttpContext http) =>
        {
            Interlocked.Increment(ref self!._requests);
            if (self.Down)
                return Results.Json(new { error = new { message = "The server is overloaded", type = "server_error" } }, statusCode: 503);
            using var doc = await JsonDocument.ParseAsync(http.Request.Body);
            var input = doc.RootElement.GetProperty("input");
            var texts = input.ValueKind == JsonValueKind.Array ? input.EnumerateArray().Select(e => e.GetString() ?? "").ToList() : [input.GetString() ?? ""];
            var base64 = doc.RootElement.TryGetProperty("encoding_format", out var f) && f.GetString() == "base64";
            var data = texts.Select((t, i) =>
            {
                var v = new float[dimensions];
                v[0] = 0.01f;   // never the zero vector
                foreach (var w in t.ToLowerInvariant().Split([' ', ',', '.', '?', '!', '—', '-', ':', ';'], StringSplitOptions.RemoveEmptyEntries))
                    if (concepts.TryGetValue(w, out var c)) v[c] += 1;
                object embedding = base64 ? Convert.ToBase64String(v.SelectMany(BitConverter.GetBytes).ToArray()) : v;
                return new { @object = "embedding", index = i, embedding };
            }).ToList();
            return Results.Json(new { @object = "list", data, model = doc.RootElement.GetProperty("model").GetString(), usage = new { prompt_tokens = 1, total_tokens = 1 } });
        });
        await app.StartAsync();
        self = new FakeEmbeddings(app, app.Urls.First());
        return self;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
