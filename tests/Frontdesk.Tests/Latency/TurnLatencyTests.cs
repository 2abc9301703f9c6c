using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Calls;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Knowledge;
using Microsoft.Extensions.DependencyInjection;

namespace Frontdesk.Tests.Latency;

public class TurnLatencyTests
{
    static Frontdesk.Latency.TurnLatencyRecorder Recorder => TestApp.Factory.Services.GetServices<IVapiMessageHandler>().OfType<Frontdesk.Latency.TurnLatencyRecorder>().Single();

    /// <summary>An end-of-call report as Vapi sends it, with the turn latencies given (or no performanceMetrics at all).</summary>
    static string Report(string callId, params (double Turn, double Model, double Voice, double Transcriber, double Endpointing)[]? turns)
    {
        var metrics = turns is null ? "" : $$$"""
            , "performanceMetrics": {
                "turnLatencies": [{{{string.Join(",", turns.Select(t => $$"""{"modelLatency": {{t.Model}}, "voiceLatency": {{t.Voice}}, "transcriberLatency": {{t.Transcriber}}, "endpointingLatency": {{t.Endpointing}}, "turnLatency": {{t.Turn}} }"""))}}}],
                "modelLatencyAverage": 300, "voiceLatencyAverage": 200, "transcriberLatencyAverage": 100, "endpointingLatencyAverage": 50, "turnLatencyAverage": 650
              }
            """;
        return $$$"""
            {"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call",
              "startedAt": "2026-11-24T10:00:00.000Z", "endedAt": "2026-11-24T10:03:00.000Z",
              "call": {"id": "{{{callId}}}", "type": "inboundPhoneCall"},
              "summary": "The caller asked about prices.",
              "artifact": {"transcript": "AI: Hello. User: Hi.", "messages": [] {{{metrics}}} } } }
            """;
    }

    [Fact]
    public async Task End_of_call_reports_feed_the_latency_distribution_once_per_call()
    {
        var (clinic, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        var call1 = "call-" + Guid.NewGuid();
        var report1 = Report(call1, (150, 80, 40, 20, 10), (450, 250, 120, 50, 30), (650, 350, 180, 80, 40), (900, 500, 250, 100, 50));
        Assert.Null(await Recorder.HandleAsync(await KnowledgeFixtures.ContextAsync(secret, call1, report1), default));
        // Vapi retries webhooks: the same report again adds nothing.
        Assert.Null(await Recorder.HandleAsync(await KnowledgeFixtures.ContextAsync(secret, call1, report1), default));
        // A report without performanceMetrics (older assistants, failed calls) is accepted and stores nothing.
        var call2 = "call-" + Guid.NewGuid();
        Assert.Null(await Recorder.HandleAsync(await KnowledgeFixtures.ContextAsync(secret, call2, Report(call2, null)), default));
        Assert.Equal(4L, await TestApp.ScalarAsync<long>("select count(*) from call_turn_latencies where clinic_id = $1", clinic));

        using var admin = TestApp.As(clinic, "doctor");
        var r = await admin.GetFromJsonAsync<JsonElement>($"/api/clinics/{clinic}/latency");
        Assert.Equal(4, r.GetProperty("turns").GetInt32());
        var b = r.GetProperty("buckets");
        Assert.Equal(0.25, b.GetProperty("under200").GetDouble());
        Assert.Equal(0.25, b.GetProperty("from200to500").GetDouble());
        Assert.Equal(0.25, b.GetProperty("from500to800").GetDouble());
        Assert.Equal(0.25, b.GetProperty("over800").GetDouble());
        Assert.Equal(550, r.GetProperty("p50").GetDouble());
        Assert.Equal(862.5, r.GetProperty("p95").GetDouble());      // continuous: 650 + 0.85 × 250
        Assert.Equal(300, r.GetProperty("stages").GetProperty("model").GetProperty("p50").GetDouble());
        Assert.Equal(35, r.GetProperty("stages").GetProperty("endpointing").GetProperty("p50").GetDouble());

        var empty = await admin.GetFromJsonAsync<JsonElement>($"/api/clinics/{clinic}/latency?from=2030-01-01T00:00:00Z&to=2030-02-01T00:00:00Z");
        Assert.Equal(0, empty.GetProperty("turns").GetInt32());
        Assert.Equal(JsonValueKind.Null, empty.GetProperty("p95").ValueKind);
        var window = await admin.GetFromJsonAsync<JsonElement>($"/api/clinics/{clinic}/latency?from=2026-11-24T00:00:00Z&to=2026-11-25T00:00:00Z");
        Assert.Equal(4, window.GetProperty("turns").GetInt32());
    }

    [Fact]
    public async Task Latency_report_rejects_an_inverted_window_and_other_clinics()
    {
        var (clinic, _) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        var (other, _) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        using var admin = TestApp.As(clinic);
        var inverted = await admin.GetAsync($"/api/clinics/{clinic}/latency?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z");
        Assert.Equal(HttpStatusCode.BadRequest, inverted.StatusCode);
        Assert.Equal("https://frontdesk.dev/problems/validation", (await inverted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        var foreign = await admin.GetAsync($"/api/clinics/{other}/latency");
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        var garbage = await admin.GetAsync($"/api/clinics/{clinic}/latency?from=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
    }
}
