using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Frontdesk.Bench.Validate;

/// <summary>Seed Task 4: latency and response benchmarking, the voice pipeline's budget around the
/// parts Frontdesk owns (knowledge search, custom-LLM relay), at 5 concurrent calls.</summary>
public static class Task4Latency
{
    static readonly TimeSpan Stt = TimeSpan.FromMilliseconds(100), TtsFirstAudio = TimeSpan.FromMilliseconds(200),
        Speaking = TimeSpan.FromMilliseconds(800);

    static readonly string[] Questions =
    [
        "How much does a nose job cost?", "What's the recovery like after a facelift?", "Do you do Botox?",
        "Where are you, which tube station is nearest?", "Can I pay in instalments?", "What happens at a consultation?",
        "How long does liquid rhinoplasty last?", "Can I cancel my appointment?",
    ];

    public static async Task RunAsync(ValidationRun run)
    {
        var s = new Section("task4", "Task 4: Latency & Response Benchmarking");
        run.Report.Sections.Add(s);
        run.Progress("▶ Task 4: knowledge queries and time to first byte at 5 concurrent calls …");
        var c = await run.CreateClinicAsync("t4", slots: 0, patients: 0);
        var admin = run.Api.Token(c.Id, "admin");

        // Knowledge base: the shared corpus when present, so searches are realistic.
        var dir = FindCorpus();
        var docs = dir is null ? [] : Directory.GetFiles(dir, "*.md").Order(StringComparer.Ordinal).ToArray();
        foreach (var f in docs)
            await run.Api.PostAsync($"/api/clinics/{c.Id}/knowledge/documents", admin,
                new { title = Path.GetFileNameWithoutExtension(f).Replace('-', ' '), source = Path.GetFileName(f), content = await File.ReadAllTextAsync(f) });
        var kb = new List<double>();
        var kbOk = 0;
        for (var i = 0; i < 60; i++)
        {
            var q = Questions[i % Questions.Length];
            var r = await run.Api.GetAsync($"/api/clinics/{c.Id}/knowledge/search?q={Uri.EscapeDataString(q)}&k=3", admin);
            kb.Add(r.Ms);
            if (r.Ok && ValidationRun.Count(r.Body) > 0) kbOk++;
        }
        run.Report.Samples["knowledge query"] = kb;
        s.Metrics["kbP95Ms"] = Stats.Percentile(kb, 95);

        // 5 concurrent calls, 8 turns each: STT → (partial transcript to the webhook: knowledge
        // prefetch) → streamed custom-LLM request → first token relayed → TTS first audio.
        var ttfb = new List<double>();
        var ours = new List<double>();
        var streamed = 0;
        var failures = new List<string>();
        await Task.WhenAll(Enumerable.Range(0, 5).Select(async call =>
        {
            var callId = $"call-validate-{call}-{Guid.NewGuid():N}";
            var messages = new List<object> { new { role = "system", content = "You are the receptionist of a London aesthetic clinic." } };
            for (var turn = 0; turn < 9; turn++)
            {
                var question = Questions[(call + turn) % Questions.Length];
                // The caller speaks for ~800 ms; Vapi streams partial transcripts to the webhook
                // meanwhile and never waits for their answers, so neither do we.
                var partials = new List<Task<ApiResult>>();
                Task<ApiResult> Partial(string text) => run.Api.SendAsync(HttpMethod.Post, "/vapi/webhook", null, new
                {
                    message = new { type = "transcript", role = "user", transcriptType = "partial", transcript = text,
                        call = new { id = callId }, timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() },
                }, new Dictionary<string, string> { ["X-Vapi-Secret"] = c.VapiSecret });
                await Task.Delay(Speaking / 2);
                partials.Add(Partial(question[..(question.Length * 2 / 3)]));
                await Task.Delay(Speaking / 2);
                partials.Add(Partial(question));
                // TTFB starts when the caller stops speaking.
                var t0 = Stopwatch.GetTimestamp();
                await Task.Delay(Stt);
                messages.Add(new { role = "user", content = question });
                var sinceEndOfSpeech = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                var (first, total, text, error) = await StreamAsync(run.Api.Http, c.VapiSecret, callId, messages);
                if (error is not null) { lock (failures) failures.Add(error); continue; }
                // The caller hears the reply when TTS has the first words: first token + TTS first audio.
                var elapsed = sinceEndOfSpeech + first + TtsFirstAudio.TotalMilliseconds;
                if (turn > 0)   // turn 0 warms this call's connections and is not counted
                    lock (ttfb)
                    {
                        ttfb.Add(elapsed);
                        ours.Add(first - (run.Llm?.FirstToken.TotalMilliseconds ?? 0));
                        if (first < total * 0.8) streamed++;
                    }
                messages.Add(new { role = "assistant", content = text });
                await Task.WhenAll(partials);
            }
        }));
        run.Report.Samples["ttfb"] = ttfb;

        double Frac(Func<double, bool> f) => ttfb.Count == 0 ? 0 : ttfb.Count(f) / (double)ttfb.Count;
        s.Block.Add("TTFB Distribution (STT 100 ms + Frontdesk + upstream LLM first token + TTS first audio 200 ms):");
        s.Block.Add($"  <200ms: {Frac(x => x < 200):P0}");
        s.Block.Add($"  200-500ms: {Frac(x => x is >= 200 and < 500):P0}");
        s.Block.Add($"  500-800ms: {Frac(x => x is >= 500 and < 800):P0}");
        s.Block.Add($"  >800ms: {Frac(x => x >= 800):P0}");
        s.Block.Add("");
        s.Block.Add($"P95 latency: {Stats.Percentile(ttfb, 95):F0}ms · P99 latency: {Stats.Percentile(ttfb, 99):F0}ms · turns {ttfb.Count}");
        if (run.Llm is not null) s.Block.Add($"Frontdesk's own share of the first byte (over the upstream's {run.Llm.FirstToken.TotalMilliseconds:F0} ms): {Stats.Summary(ours)}");
        s.Metrics["ttfbP95Ms"] = Stats.Percentile(ttfb, 95);
        s.Metrics["ttfbP99Ms"] = Stats.Percentile(ttfb, 99);

        var reason = failures.Count > 0 ? $"; {failures.Count} turn(s) failed: {failures[0]}" : "";
        s.Check("Every turn streamed through the custom-LLM endpoint", failures.Count == 0 && ttfb.Count == 40,
            $"{ttfb.Count}/40 turns completed{reason}");
        s.Check("Knowledge queries answered", kb.Count > 0 && kbOk == kb.Count, $"{kbOk}/{kb.Count} searches returned passages from {docs.Length} documents");
        s.Check("TTFB < 800ms in 95% cases", ttfb.Count == 40 && Frac(x => x < 800) >= 0.95, $"{Frac(x => x < 800):P1} of {ttfb.Count} turns under 800 ms{reason}", timing: true);
        s.Check("P95 latency < 700ms", ttfb.Count == 40 && Stats.Percentile(ttfb, 95) < 700, $"p95 {Stats.Percentile(ttfb, 95):F0} ms, p99 {Stats.Percentile(ttfb, 99):F0} ms", timing: true);
        s.Check("No awkward silences detected", ttfb.Count == 40 && ttfb.Max() < 800, ttfb.Count == 0 ? "no turns" : $"slowest turn {ttfb.Max():F0} ms", timing: true);
        s.Check("Streaming working (if optimized)", ttfb.Count > 0 && streamed == ttfb.Count, $"{streamed}/{ttfb.Count} replies' first token arrived well before the last", timing: true);
        s.Check("KB query < 150ms", kb.Count > 0 && kbOk == kb.Count && Stats.Percentile(kb, 95) < 150,
            $"{Stats.Summary(kb)} over HTTP; {kbOk}/{kb.Count} with results ({docs.Length} documents)", timing: true);

        // The target's own distribution from Vapi's per-turn metrics: one real-shaped end-of-call report.
        await run.Api.SendAsync(HttpMethod.Post, "/vapi/webhook", null, Task2FollowUp.EndOfCallReport($"call-validate-t4-{Guid.NewGuid():N}", null, null, "+12025550142"),
            new Dictionary<string, string> { ["X-Vapi-Secret"] = c.VapiSecret });
        var latency = await run.Api.GetAsync($"/api/clinics/{c.Id}/latency", admin);
        s.Block.Add($"Target's /latency report for this clinic: {(latency.Ok ? latency.Text : $"{(int)latency.Status}")}");
    }

    static async Task<(double FirstMs, double TotalMs, string Text, string? Error)> StreamAsync(HttpClient http, string secret, string callId, List<object> messages)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, "/vapi/llm/chat/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { model = "gpt-4o-mini", stream = true, temperature = 0.3, max_tokens = 250, messages, call = new { id = callId } }),
                Encoding.UTF8, "application/json"),
        };
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        var t = Stopwatch.GetTimestamp();
        using var res = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead);
        if (res.StatusCode != HttpStatusCode.OK) return (0, 0, "", $"{(int)res.StatusCode} {await res.Content.ReadAsStringAsync()}");
        using var reader = new StreamReader(await res.Content.ReadAsStreamAsync());
        double first = -1;
        var text = new StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            var data = line[6..];
            if (data == "[DONE]") break;
            using var doc = JsonDocument.Parse(data);
            if (doc.RootElement.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0
                && choices[0].TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
            {
                if (first < 0) first = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                text.Append(content.GetString());
            }
        }
        return first < 0 ? (0, 0, "", "the stream carried no content") : (first, Stopwatch.GetElapsedTime(t).TotalMilliseconds, text.ToString(), null);
    }

    static string? FindCorpus()
    {
        for (var d = new DirectoryInfo(Environment.CurrentDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "shared", "data", "kb", "harley-street-aesthetics");
            if (Directory.Exists(candidate)) return candidate;
            candidate = Path.Combine(d.FullName, "..", "shared", "data", "kb", "harley-street-aesthetics");
            if (Directory.Exists(candidate)) return Path.GetFullPath(candidate);
        }
        return null;
    }
}
