using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Calls;
using Frontdesk.Knowledge;
using Frontdesk.Latency;
using Frontdesk.Platform;
using Frontdesk.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Bench;

/// <summary>
/// The seed's Task 4 measurement: N concurrent simulated calls, each a sequence of turns, against a
/// running Frontdesk (its real endpoints on Kestrel, real PostgreSQL, a loopback OpenAI-compatible
/// upstream that streams tokens after a first-token delay). STT and TTS belong to Vapi and are
/// simulated as the seed's budget does. TTFB = from the caller's last word to the first audio.
///   sequential: STT → knowledge search (HTTP) → model, whole answer (non-streamed) → TTS
///   streamed:   partial transcripts prefetch knowledge while the caller speaks; STT → model
///               streamed, first token → TTS first audio
/// The webhook (POST /vapi/webhook) is another engineer's branch: partial transcripts go to the
/// same IVapiMessageHandler the webhook dispatches to, called in-process.
/// </summary>
public sealed class LoadVoiceCommand : IBenchCommand
{
    public string Name => "load voice";
    public string Summary => "[--calls 5,20,50] [--turns 4] [--first-token-ms 300] [--gap-ms 20] [--tokens 20] [--stt-ms 100] [--tts-ms 200] [--speak-ms 800]";

    sealed record Turn(double TtfbMs, double FrontdeskMs, string Knowledge);

    public async Task<int> RunAsync(string[] args)
    {
        var callCounts = (LoadKbCommand.ArgS(args, "--calls") ?? "5,20,50").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        var turns = LoadKbCommand.Arg(args, "--turns", 4);
        var firstTokenMs = LoadKbCommand.Arg(args, "--first-token-ms", 300);
        var gapMs = LoadKbCommand.Arg(args, "--gap-ms", 20);
        var tokens = LoadKbCommand.Arg(args, "--tokens", 20);
        var sttMs = LoadKbCommand.Arg(args, "--stt-ms", 100);
        var ttsMs = LoadKbCommand.Arg(args, "--tts-ms", 200);
        var speakMs = LoadKbCommand.Arg(args, "--speak-ms", 800);
        ThreadPool.SetMinThreads(128, 128);   // 50 calls' timers must not queue behind a 2-thread pool start

        await using var upstream = await FakeLlm.StartAsync(TimeSpan.FromMilliseconds(firstTokenMs), TimeSpan.FromMilliseconds(gapMs));
        upstream.Tokens = tokens;
        // The service as Program serves it, on its own private cluster.
        await using var host = await BenchHost.StartAsync(new Dictionary<string, string?>
        {
            ["FRONTDESK_LLM_BASE_URL"] = upstream.Url + "/v1",
            ["FRONTDESK_LLM_API_KEY"] = "sk-bench",
            ["FRONTDESK_LLM_MODEL"] = "fake-model",
        });
        var cluster = host.Cluster;
        var secret = "vapi-bench-" + Guid.NewGuid().ToString("N");
        var clinicId = await cluster.CreateClinicAsync("voice", secret);
        var claims = RequestClaims.ForClinic(clinicId, "bench", "admin");
        foreach (var file in Directory.EnumerateFiles(Paths.Corpus(), "*.md").Order(StringComparer.Ordinal))
        {
            var text = await File.ReadAllTextAsync(file);
            await cluster.Db.InTransactionAsync(claims, s => KnowledgeStore.IngestAsync(s, clinicId, Chunker.FirstH1(text) ?? file, Path.GetFileName(file), text, default), default);
        }
        var questions = (await File.ReadAllLinesAsync(Paths.Questions())).Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("question").GetString()!).ToArray();

        var app = host.App;
        var baseUrl = host.BaseUrl;
        var transcript = app.Services.GetServices<IVapiMessageHandler>().Single(h => h.Type == "transcript");
        var vapiClinic = new VapiClinic(clinicId, "voice", "Europe/London", null, null, null, secret);
        var token = Auth.Mint(BenchHost.SecretBytes, RequestClaims.ForClinic(clinicId, "bench", "receptionist"), TimeSpan.FromHours(1));

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1000, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            BaseAddress = new Uri(baseUrl),
            Timeout = TimeSpan.FromSeconds(30),
        };

        var overhead = new ConcurrentQueue<double>();
        var upstreamFirst = new ConcurrentQueue<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Frontdesk" && instrument.Name is "frontdesk.llm.overhead" or "frontdesk.llm.upstream_first_token")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
            (instrument.Name == "frontdesk.llm.overhead" ? overhead : upstreamFirst).Enqueue(value));
        listener.Start();

        // Warm-up (JIT, connection pools, plans): a few turns of each pipeline, not measured.
        for (var i = 0; i < 8; i++)
        {
            await StreamedTurnAsync(http, secret, transcript, vapiClinic, $"warm-{i}", questions[i % questions.Length], 0, 0, 0);
            await SequentialTurnAsync(http, secret, token, clinicId, questions[i % questions.Length], 0, 0, 0);
        }

        Console.WriteLine($"load voice: upstream first token {firstTokenMs} ms, {tokens} tokens {gapMs} ms apart; simulated STT {sttMs} ms, TTS first audio {ttsMs} ms; caller speaks {speakMs} ms; {turns} turns per call");
        Console.WriteLine();
        Console.WriteLine("pipeline     calls turns   <200  200-500  500-800   >800     p50     p95     p99   Frontdesk p50/p95/p99 (ms)   knowledge");
        foreach (var n in callCounts)
        {
            foreach (var streamed in new[] { false, true })
            {
                overhead.Clear();
                upstreamFirst.Clear();
                var results = new ConcurrentQueue<Turn>();
                await Task.WhenAll(Enumerable.Range(0, n).Select(call => Task.Run(async () =>
                {
                    var callId = $"bench-call-{n}-{streamed}-{call}-{Guid.NewGuid():N}";
                    // Calls do not start in lockstep: each begins somewhere within one turn's length.
                    await Task.Delay(Random.Shared.Next(speakMs + sttMs + firstTokenMs + ttsMs));
                    for (var t = 0; t < turns; t++)
                    {
                        var q = questions[(call * 7 + t) % questions.Length];
                        results.Enqueue(streamed
                            ? await StreamedTurnAsync(http, secret, transcript, vapiClinic, callId, q, speakMs, sttMs, ttsMs)
                            : await SequentialTurnAsync(http, secret, token, clinicId, q, speakMs, sttMs, ttsMs));
                    }
                })));
                var ttfb = results.Select(r => r.TtfbMs).Order().ToList();
                var own = streamed ? [.. overhead.Order()] : results.Select(r => r.FrontdeskMs).Order().ToList();
                double Share(double lo, double hi) => ttfb.Count(x => x >= lo && x < hi) / (double)ttfb.Count;
                var knowledge = string.Join(" ", results.GroupBy(r => r.Knowledge).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}:{g.Count()}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(streamed ? "streamed" : "sequential"),-12} {n,5} {ttfb.Count,5} {Share(0, 200),6:P0} {Share(200, 500),8:P0} {Share(500, 800.0001),8:P0} {Share(800.0001, double.MaxValue),6:P0} {Percentiles.Of(ttfb, 50),7:F0} {Percentiles.Of(ttfb, 95),7:F0} {Percentiles.Of(ttfb, 99),7:F0}   {Percentiles.Of(own, 50),6:F2} / {Percentiles.Of(own, 95),6:F2} / {Percentiles.Of(own, 99),6:F2}       {knowledge}"));
                if (streamed && !upstreamFirst.IsEmpty)
                {
                    var up = upstreamFirst.Order().ToList();
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{"",12} upstream's own first token p50 {Percentiles.Of(up, 50):F1} / p99 {Percentiles.Of(up, 99):F1} ms; Frontdesk = first byte sent − that (auth, knowledge wait, prompt, relay)"));
                }
            }
        }
        Console.WriteLine();
        Console.WriteLine("Frontdesk column: sequential = the knowledge search request as the client saw it; streamed = frontdesk.llm.overhead (first byte sent minus the upstream's first token).");
        return 0;
    }

    static async Task<Turn> StreamedTurnAsync(HttpClient http, string secret, IVapiMessageHandler transcript, VapiClinic clinic, string callId,
        string question, int speakMs, int sttMs, int ttsMs)
    {
        // While the caller speaks, Vapi's partial transcripts reach the webhook: at 40 % and 80 % of the utterance.
        var words = question.Split(' ');
        await Task.Delay(speakMs * 4 / 10);
        await transcript.HandleAsync(Context(clinic, callId, string.Join(' ', words.Take(Math.Max(1, words.Length / 2)))), default);
        await Task.Delay(speakMs * 4 / 10);
        await transcript.HandleAsync(Context(clinic, callId, question), default);
        await Task.Delay(speakMs * 2 / 10);
        var endOfSpeech = Stopwatch.GetTimestamp();
        await Task.Delay(sttMs);

        using var request = LlmRequest(secret, callId, question, stream: true);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[4096];
        _ = await body.ReadAsync(buffer);                        // the first token's event
        var firstToken = Stopwatch.GetElapsedTime(endOfSpeech).TotalMilliseconds;
        while (await body.ReadAsync(buffer) > 0) { }            // TTS speaks the rest as it streams
        var knowledge = response.Headers.TryGetValues(CustomLlmEndpoint.KnowledgeHeader, out var k) ? k.First() : "?";
        return new Turn(firstToken + ttsMs, 0, knowledge);
    }

    static async Task<Turn> SequentialTurnAsync(HttpClient http, string secret, string token, Guid clinicId, string question, int speakMs, int sttMs, int ttsMs)
    {
        await Task.Delay(speakMs);
        var endOfSpeech = Stopwatch.GetTimestamp();
        await Task.Delay(sttMs);
        var kb0 = Stopwatch.GetTimestamp();
        using (var kb = new HttpRequestMessage(HttpMethod.Get, $"/api/clinics/{clinicId}/knowledge/search?q={Uri.EscapeDataString(question)}&k=3"))
        {
            kb.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var r = await http.SendAsync(kb);
            r.EnsureSuccessStatusCode();
            await r.Content.ReadAsByteArrayAsync();
        }
        var kbMs = Stopwatch.GetElapsedTime(kb0).TotalMilliseconds;
        using var request = LlmRequest(secret, null, question, stream: false);
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        await response.Content.ReadAsByteArrayAsync();         // the whole answer, then TTS
        var answered = Stopwatch.GetElapsedTime(endOfSpeech).TotalMilliseconds;
        return new Turn(answered + ttsMs, kbMs, "inline");
    }

    static VapiContext Context(VapiClinic clinic, string callId, string text) =>
        new(clinic, callId, null, JsonSerializer.SerializeToElement(new { type = "transcript", role = "user", transcriptType = "partial", transcript = text }));

    static HttpRequestMessage LlmRequest(string secret, string? callId, string question, bool stream)
    {
        var body = new
        {
            model = "frontdesk", stream, temperature = 0.3, max_tokens = 250,
            messages = new object[]
            {
                new { role = "system", content = "You are the receptionist of Harley Street Aesthetics. Be brief and warm." },
                new { role = "assistant", content = "Hello, Harley Street Aesthetics, how can I help?" },
                new { role = "user", content = question },
            },
            call = new { id = callId },
        };
        var request = new HttpRequestMessage(HttpMethod.Post, "/vapi/llm/chat/completions") { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        return request;
    }
}
