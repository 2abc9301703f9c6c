using System.Buffers;
using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using Frontdesk.Calls;
using Frontdesk.Knowledge;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Frontdesk.Latency;

/// <summary>The OpenAI-compatible upstream (FRONTDESK_LLM_*). Unset base URL → the endpoint answers 503.</summary>
public sealed class LlmUpstream
{
    public string? BaseUrl { get; }
    public string Model { get; }
    public IChatClient? Chat { get; }

    public LlmUpstream(IConfiguration config)
    {
        BaseUrl = config["FRONTDESK_LLM_BASE_URL"] is { Length: > 0 } b ? b : null;
        Model = config["FRONTDESK_LLM_MODEL"] is { Length: > 0 } m ? m : "gpt-4o-mini";
        if (BaseUrl is null) return;
        // One pooled connection set for every call: a warm connection saves a TCP (and TLS) handshake
        // on the caller's critical path.
        var http = new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        }) { Timeout = Timeout.InfiniteTimeSpan };
        var client = new OpenAIClient(new ApiKeyCredential(config["FRONTDESK_LLM_API_KEY"] is { Length: > 0 } k ? k : "unused"), new OpenAIClientOptions
        {
            Endpoint = new Uri(BaseUrl),
            Transport = new HttpClientPipelineTransport(http),
            // No retries: a retried first token is a silence the caller hears; Vapi has its own fallback.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = TimeSpan.FromSeconds(60),
        });
        Chat = client.GetChatClient(Model).AsIChatClient();
    }
}

/// <summary>
/// <c>POST /vapi/llm/chat/completions</c>: Frontdesk as the voice agent's custom LLM. Adds the
/// clinic's knowledge for the caller's latest question to the prompt and relays the upstream model's
/// tokens the moment they arrive (one SSE event and one flush per update, nothing buffered); a
/// caller hanging up cancels the upstream request.
/// </summary>
public static partial class CustomLlmEndpoint
{
    /// <summary>How long the model path waits for knowledge it does not have yet (the seed's KB budget).</summary>
    public static readonly TimeSpan KnowledgeBudget = TimeSpan.FromMilliseconds(150);
    public const string KnowledgeHeader = "X-Frontdesk-Knowledge";

    static readonly byte[] MidStreamError =
        Encoding.UTF8.GetBytes("data: {\"error\":{\"message\":\"The upstream model failed mid-answer.\",\"type\":\"upstream_error\"}}\n\n");

    static readonly Histogram<double> FirstUpstreamToken = FrontdeskMeter.Meter.CreateHistogram<double>("frontdesk.llm.upstream_first_token", "ms",
        "From sending the upstream request to its first token");
    static readonly Histogram<double> FirstByte = FrontdeskMeter.Meter.CreateHistogram<double>("frontdesk.llm.first_byte", "ms",
        "From the request reaching the endpoint to the first byte of the answer sent");
    static readonly Histogram<double> Overhead = FrontdeskMeter.Meter.CreateHistogram<double>("frontdesk.llm.overhead", "ms",
        "Frontdesk's own share of the time to first byte: first_byte minus upstream_first_token");

    public static IServiceCollection AddCustomLlm(this IServiceCollection services)
    {
        services.AddSingleton<LlmUpstream>();
        return services;
    }

    public static void MapCustomLlm(this IEndpointRouteBuilder app) =>
        app.MapPost("/vapi/llm/chat/completions", Handle).WithTags("Voice").AllowAnonymous();

    // Writes the response itself (Task, not Results<…>): a stream of events has no single result.
    static async Task Handle(HttpContext http, Db db, LlmUpstream upstream, KnowledgePrefetch prefetch, ILoggerFactory loggers)
    {
        var started = Stopwatch.GetTimestamp();
        var ct = http.RequestAborted;
        var log = loggers.CreateLogger("Frontdesk.Llm");
        var clinic = await VapiAuth.AuthenticateAsync(http.Request, db, ct);
        if (clinic is null)
        {
            await Problems.Problem(401, Problems.Unauthorized, "Authentication required", "The clinic's Vapi secret is required as a bearer key.").ExecuteAsync(http);
            return;
        }
        if (upstream.Chat is null)
        {
            await Problems.Problem(503, Problems.Unavailable, "No upstream model configured", "Set FRONTDESK_LLM_BASE_URL (and _API_KEY, _MODEL).").ExecuteAsync(http);
            return;
        }

        using var received = new MemoryStream();
        await http.Request.Body.CopyToAsync(received, ct);
        if (!InputGuard.TryParseJson(received.GetBuffer().AsMemory(0, (int)received.Length), out var body, out var unreadable))
        {
            await unreadable!.ExecuteAsync(http);
            return;
        }
        List<ChatMessage> messages;
        ChatOptions options;
        try
        {
            if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("messages", out var raw) || raw.ValueKind != JsonValueKind.Array || raw.GetArrayLength() == 0)
            {
                await Problems.Invalid("messages must be a non-empty array.").ExecuteAsync(http);
                return;
            }
            messages = LlmWire.ToMessages(raw);
            options = LlmWire.ToOptions(body, upstream.Model);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException or DecoderFallbackException)
        {
            await Problems.Problem(400, Problems.MalformedRequest, "The request is not an OpenAI chat completion request",
                e is FormatException ? e.Message : null).ExecuteAsync(http);
            return;
        }

        var callId = body.TryGetProperty("call", out var call) ? KnowledgeSpeech.Str(call, "id") : null;
        var question = messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text;
        var (hits, outcome) = await prefetch.GetAsync(clinic.Id, callId, question, KnowledgeBudget, ct);
        if (hits.Count > 0) InsertContext(messages, hits);
        http.Response.Headers[KnowledgeHeader] = outcome;

        var stream = body.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var upstreamStarted = Stopwatch.GetTimestamp();
        if (!stream)
        {
            ChatResponse response;
            try
            {
                response = await upstream.Chat.GetResponseAsync(messages, options, ct);
            }
            catch (ClientResultException e)
            {
                Log.UpstreamFailed(log, e.Status, "before the answer");
                await UpstreamProblem(http, e.Status);
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                Log.UpstreamFailed(log, 0, "before the answer");
                await UpstreamProblem(http, 0);
                return;
            }
            http.Response.ContentType = "application/json";
            await http.Response.Body.WriteAsync(LlmWire.Completion(response, id, upstream.Model), ct);
            return;
        }

        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var buffer = new ArrayBufferWriter<byte>(1024);
        var first = true;
        try
        {
            await foreach (var update in upstream.Chat.GetStreamingResponseAsync(messages, options, ct))
            {
                if (first)
                {
                    var upstreamFirst = Stopwatch.GetElapsedTime(upstreamStarted).TotalMilliseconds;
                    http.Response.StatusCode = 200;
                    http.Response.ContentType = "text/event-stream";
                    http.Response.Headers.CacheControl = "no-cache";
                    LlmWire.WriteChunk(buffer, update, id, upstream.Model, first: true);
                    await http.Response.Body.WriteAsync(buffer.WrittenMemory, ct);
                    await http.Response.Body.FlushAsync(ct);
                    var firstByte = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    var outcomeTag = new KeyValuePair<string, object?>("knowledge", outcome);
                    FirstUpstreamToken.Record(upstreamFirst, outcomeTag);
                    FirstByte.Record(firstByte, outcomeTag);
                    Overhead.Record(firstByte - upstreamFirst, outcomeTag);
                    first = false;
                }
                else
                {
                    LlmWire.WriteChunk(buffer, update, id, upstream.Model, first: false);
                    await http.Response.Body.WriteAsync(buffer.WrittenMemory, ct);
                    await http.Response.Body.FlushAsync(ct);
                }
                buffer.ResetWrittenCount();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return;   // the caller hung up (or Vapi moved on): the upstream request is already cancelled
        }
        catch (Exception e) when (e is ClientResultException or HttpRequestException or IOException)
        {
            var status = (e as ClientResultException)?.Status ?? 0;
            if (first)
            {
                Log.UpstreamFailed(log, status, "before the first token");
                await UpstreamProblem(http, status);
                return;
            }
            // Headers are gone: the stream ends with an error event instead of hanging.
            Log.UpstreamFailed(log, status, "mid-stream");
            await http.Response.Body.WriteAsync(MidStreamError, CancellationToken.None);
            await http.Response.Body.FlushAsync(CancellationToken.None);
            return;
        }
        if (first)
        {
            // An upstream that answered nothing: still a well-formed (empty) stream.
            http.Response.ContentType = "text/event-stream";
        }
        await http.Response.Body.WriteAsync("data: [DONE]\n\n"u8.ToArray(), ct);
        await http.Response.Body.FlushAsync(ct);
    }

    /// <summary>The knowledge goes in a system message just before the caller's last message: the
    /// prompt's prefix stays identical from turn to turn, which lets the upstream's prompt cache work.</summary>
    static void InsertContext(List<ChatMessage> messages, IReadOnlyList<KnowledgeHit> hits)
    {
        var sb = new StringBuilder("Clinic information that may answer the caller's latest question. Use it when it is relevant; if it does not cover the question, say you will check with the team.");
        foreach (var h in hits)
            sb.Append("\n- ").Append(h.Title).Append(h.Heading.Length > 0 ? " / " + h.Heading : "").Append(": ").Append(Chunker.Plain(h.Text));
        var lastUser = messages.FindLastIndex(m => m.Role == ChatRole.User);
        messages.Insert(lastUser < 0 ? messages.Count : lastUser, new ChatMessage(ChatRole.System, sb.ToString()));
    }

    static Task UpstreamProblem(HttpContext http, int status) =>
        Problems.Problem(502, Problems.Upstream, "The upstream model failed",
            status > 0 ? $"The upstream answered {status}." : "The upstream could not be reached.").ExecuteAsync(http);

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream model failed {When} (status {Status})")]
        public static partial void UpstreamFailed(ILogger logger, int status, string when);
    }
}
