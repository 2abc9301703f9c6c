using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.Http.Headers;
using System.Text;
using Frontdesk.Calls;
using Frontdesk.Knowledge;
using Microsoft.AspNetCore.Http.Features;

namespace Frontdesk.Latency;

/// <summary>The OpenAI-compatible upstream (FRONTDESK_LLM_*). Unset base URL → the endpoint answers 503.</summary>
public sealed class LlmUpstream : IDisposable
{
    /// <summary>How long the upstream may take to answer (headers), and to go quiet mid-stream.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public string? BaseUrl { get; }
    public string Model { get; }
    public string ApiKey { get; }
    public HttpClient Http { get; }

    public LlmUpstream(IConfiguration config)
    {
        BaseUrl = config["FRONTDESK_LLM_BASE_URL"] is { Length: > 0 } b ? b.TrimEnd('/') : null;
        Model = config["FRONTDESK_LLM_MODEL"] is { Length: > 0 } m ? m : "gpt-4o-mini";
        ApiKey = config["FRONTDESK_LLM_API_KEY"] is { Length: > 0 } k ? k : "unused";
        // One pooled connection set for every call: a warm connection saves a TCP (and TLS) handshake
        // on the caller's critical path. No retries: a retried first token is a silence the caller
        // hears; Vapi has its own fallback.
        Http = new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        }) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    }

    public void Dispose() => Http.Dispose();
}

/// <summary>
/// <c>POST /vapi/llm/chat/completions</c>: Frontdesk as the voice agent's custom LLM. Adds the
/// clinic's knowledge for the caller's latest question to the prompt and relays the upstream model's
/// answer unchanged (<see cref="LlmWire"/>): each SSE event is written and flushed the moment it is
/// complete, nothing buffered; an upstream error event ends the stream as an error; a caller hanging
/// up cancels the upstream request.
/// </summary>
/// <remarks>
/// A relay of the raw wire, not Microsoft.Extensions.AI's IChatClient: that abstraction rebuilds the
/// request and the answer from its own model, and what it cannot represent is lost — the legacy
/// <c>functions</c> list (Vapi's endCall), <c>max_tokens</c> (sent as <c>max_completion_tokens</c>),
/// the usage chunk (it became a second finish chunk), the upstream's ids and timestamps, and error
/// events in the stream (dropped, so half a sentence ended with [DONE]). Vapi must get exactly what
/// the model said, so the bytes pass through.
/// </remarks>
public static partial class CustomLlmEndpoint
{
    /// <summary>How long the model path waits for knowledge it does not have yet (the seed's KB budget).</summary>
    public static readonly TimeSpan KnowledgeBudget = TimeSpan.FromMilliseconds(150);
    public const string KnowledgeHeader = "X-Frontdesk-Knowledge";

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
        if (upstream.BaseUrl is null)
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
        if (LlmWire.Invalid(body) is { } invalid)
        {
            await Problems.Invalid(invalid).ExecuteAsync(http);
            return;
        }

        var callId = body.TryGetProperty("call", out var call) ? KnowledgeSpeech.Str(call, "id") : null;
        var (hits, outcome) = await prefetch.GetAsync(clinic.Id, callId, LlmWire.LastUserText(body), KnowledgeBudget, ct);
        http.Response.Headers[KnowledgeHeader] = outcome;

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(LlmUpstream.Timeout);
        using var request = new HttpRequestMessage(HttpMethod.Post, upstream.BaseUrl + "/chat/completions")
        {
            Content = new ByteArrayContent(LlmWire.ToUpstream(body, upstream.Model, hits.Count > 0 ? Context(hits) : null)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", upstream.ApiKey);
        var upstreamStarted = Stopwatch.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            response = await upstream.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return;   // the caller hung up (or Vapi moved on)
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            Log.UpstreamFailed(log, 0, "before the answer");
            await UpstreamProblem(http, null, null);
            return;
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                Log.UpstreamFailed(log, (int)response.StatusCode, "before the answer");
                await UpstreamProblem(http, response, await ErrorBodyAsync(response, timeout.Token));
                return;
            }
            var stream = response.Content.Headers.ContentType?.MediaType == "text/event-stream";
            void Measure()
            {
                var upstreamFirst = Stopwatch.GetElapsedTime(upstreamStarted).TotalMilliseconds;
                var firstByte = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                var tag = new KeyValuePair<string, object?>("knowledge", outcome);
                FirstUpstreamToken.Record(upstreamFirst, tag);
                FirstByte.Record(firstByte, tag);
                Overhead.Record(firstByte - upstreamFirst, tag);
            }
            try
            {
                if (stream)
                    await RelayEventsAsync(http, response, timeout, Measure, log, ct);
                else
                {
                    var answer = await response.Content.ReadAsByteArrayAsync(timeout.Token);
                    Measure();
                    http.Response.ContentType = response.Content.Headers.ContentType?.ToString() ?? "application/json";
                    await http.Response.Body.WriteAsync(answer, ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // The caller hung up: disposing the response cancels the upstream request.
            }
            catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException && !http.Response.HasStarted)
            {
                Log.UpstreamFailed(log, 0, "before the first token");
                await UpstreamProblem(http, null, null);
            }
        }
    }

    /// <summary>Upstream SSE events to the caller one complete event at a time, each flushed at once.
    /// The stream ends where the upstream's does: [DONE], or an error event (relayed, then nothing
    /// more). An upstream that breaks off or goes quiet without either gets our own error event, so
    /// half an answer is never taken for a whole one.</summary>
    static async Task RelayEventsAsync(HttpContext http, HttpResponseMessage response, CancellationTokenSource timeout, Action measure,
        ILogger log, CancellationToken ct)
    {
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token), Encoding.UTF8);
        var evt = new StringBuilder();
        var data = new StringBuilder();
        var buffer = new ArrayBufferWriter<byte>(1024);
        string ending = "broke off";
        try
        {
            while (await reader.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.Length > 0)
                {
                    evt.Append(line).Append('\n');
                    if (line.StartsWith("data:", StringComparison.Ordinal))
                        data.Append(line.AsSpan(line.StartsWith("data: ", StringComparison.Ordinal) ? 6 : 5));
                    continue;
                }
                if (evt.Length == 0) continue;
                evt.Append('\n');
                if (!http.Response.HasStarted)
                {
                    http.Response.StatusCode = 200;
                    http.Response.ContentType = "text/event-stream";
                    http.Response.Headers.CacheControl = "no-cache";
                }
                buffer.ResetWrittenCount();
                Encoding.UTF8.GetBytes(evt.ToString(), buffer);
                var first = !http.Response.HasStarted;
                await http.Response.Body.WriteAsync(buffer.WrittenMemory, ct);
                await http.Response.Body.FlushAsync(ct);
                if (first) measure();
                timeout.CancelAfter(LlmUpstream.Timeout);   // quiet for this long mid-answer: broken
                var payload = data.ToString().Trim();
                evt.Clear();
                data.Clear();
                if (payload == "[DONE]") return;
                if (LlmWire.IsError(payload))
                {
                    Log.UpstreamFailed(log, 200, "mid-stream, with an error event (relayed)");
                    return;
                }
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException || e is OperationCanceledException && !ct.IsCancellationRequested)
        {
            if (!http.Response.HasStarted) throw;
            ending = e is OperationCanceledException ? "went quiet" : "broke off";
        }
        if (!http.Response.HasStarted)
        {
            http.Response.StatusCode = 200;
            http.Response.ContentType = "text/event-stream";
        }
        Log.UpstreamFailed(log, 0, "mid-stream (" + ending + ")");
        await http.Response.Body.WriteAsync(LlmWire.ErrorEvent($"The upstream model {ending} mid-answer."), CancellationToken.None);
        await http.Response.Body.FlushAsync(CancellationToken.None);
    }

    static async Task<string> ErrorBodyAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(ct);
            return Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 64 * 1024));
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            return "";
        }
    }

    /// <summary>The system message with the clinic's knowledge (placed by <see cref="LlmWire.ToUpstream"/>).</summary>
    static string Context(IReadOnlyList<KnowledgeHit> hits)
    {
        var sb = new StringBuilder("Clinic information that may answer the caller's latest question. Use it when it is relevant; if it does not cover the question, say you will check with the team.");
        foreach (var h in hits)
            sb.Append("\n- ").Append(h.Title).Append(h.Heading.Length > 0 ? " / " + h.Heading : "").Append(": ").Append(Chunker.Plain(h.Text));
        return sb.ToString();
    }

    /// <summary>An upstream that did not answer, or refused: a problem that names its status. The
    /// upstream's own 400/422 means the request was not acceptable — the caller's 400 — anything else
    /// is a 502; Retry-After is passed on. Never the upstream's message: it can name the account.</summary>
    static Task UpstreamProblem(HttpContext http, HttpResponseMessage? response, string? errorBody)
    {
        if (response is null)
            return Problems.Problem(502, Problems.Upstream, "The upstream model failed", "The upstream could not be reached or did not answer in time.")
                .ExecuteAsync(http);
        var status = (int)response.StatusCode;
        var (type, code) = LlmWire.ErrorOf(errorBody ?? "");
        var extensions = new Dictionary<string, object?> { ["upstreamStatus"] = status, ["upstreamErrorType"] = type, ["upstreamErrorCode"] = code };
        if (response.Headers.RetryAfter is { } retry) http.Response.Headers.RetryAfter = retry.ToString();
        var detail = $"The upstream answered {status} {response.ReasonPhrase}.";
        return (status is 400 or 422
            ? Problems.Problem(400, Problems.Validation, "The upstream model refused the request", detail, extensions)
            : Problems.Problem(502, Problems.Upstream, "The upstream model failed", detail, extensions)).ExecuteAsync(http);
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream model failed {When} (status {Status})")]
        public static partial void UpstreamFailed(ILogger logger, int status, string when);
    }
}
