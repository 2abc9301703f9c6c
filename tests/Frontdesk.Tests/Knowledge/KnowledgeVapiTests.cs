using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Calls;
using Frontdesk.Knowledge;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Latency;
using Microsoft.Extensions.DependencyInjection;

namespace Frontdesk.Tests.Knowledge;

/// <summary>The knowledge tool and message handlers, invoked the way the webhook dispatches them: a
/// VapiContext for a clinic authenticated by its secret, with messages shaped as Vapi sends them.</summary>
public class KnowledgeVapiTests(LlmRelayFixture fx) : IClassFixture<LlmRelayFixture>
{
    static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    IServiceProvider Services => fx.App.Services;
    IVapiMessageHandler Handler(string type) => Services.GetServices<IVapiMessageHandler>().Single(h => h.Type == type);

    static string Conversation(string type, string callId, string lastUser) => $$$"""
        {"message": {"type": "{{{type}}}", "timestamp": 1732400000000,
          "call": {"id": "{{{callId}}}", "type": "inboundPhoneCall"},
          "messages": [
            {"role": "system", "message": "You are the receptionist.", "time": 1732400000000, "secondsFromStart": 0},
            {"role": "bot", "message": "Hello, Harley Street Aesthetics, how can I help?", "time": 1732400001000, "secondsFromStart": 1},
            {"role": "user", "message": {{{JsonSerializer.Serialize(lastUser)}}}, "time": 1732400004000, "secondsFromStart": 4}
          ],
          "messagesOpenAIFormatted": [
            {"role": "system", "content": "You are the receptionist."},
            {"role": "assistant", "content": "Hello, Harley Street Aesthetics, how can I help?"},
            {"role": "user", "content": {{{JsonSerializer.Serialize(lastUser)}}} }
          ]}}
        """;

    static string Transcript(string callId, string text, string kind) => $$$"""
        {"message": {"type": "transcript", "role": "user", "transcriptType": "{{{kind}}}", "transcript": {{{JsonSerializer.Serialize(text)}}},
          "timestamp": 1732400003000, "call": {"id": "{{{callId}}}"} } }
        """;

    [Fact]
    public async Task Lookup_knowledge_tool_answers_in_one_spoken_line()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);
        var tool = Services.GetServices<IVapiTool>().Single(t => t.Name == "lookup_knowledge");
        var ctx = await KnowledgeFixtures.ContextAsync(secret, "call-" + Guid.NewGuid(), """{"message": {"type": "tool-calls"}}""");
        var answer = await tool.InvokeAsync(ctx, JsonDocument.Parse("""{"question": "how much is a boob job"}""").RootElement, default);
        Assert.Contains("£6,950", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("**", answer, StringComparison.Ordinal);
        Assert.True(answer.Length <= LookupKnowledgeTool.MaxSpokenChars + 1);

        var asString = await tool.InvokeAsync(ctx, JsonSerializer.SerializeToElement("{\"question\": \"how much is a boob job\"}"), default);
        Assert.Equal(answer, asString);

        var none = await tool.InvokeAsync(ctx, JsonDocument.Parse("""{"question": "do you sell helicopters"}""").RootElement, default);
        Assert.Contains("does not cover", none, StringComparison.Ordinal);
        await Assert.ThrowsAsync<VapiToolException>(() => tool.InvokeAsync(ctx, JsonDocument.Parse("{}").RootElement, default));
    }

    [Fact]
    public async Task Knowledge_base_request_returns_documents_for_the_last_user_message()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);
        var ctx = await KnowledgeFixtures.ContextAsync(secret, "call-" + Guid.NewGuid(),
            Conversation("knowledge-base-request", "c1", "whats the nearest tube station"));
        var reply = await Handler("knowledge-base-request").HandleAsync(ctx, default);
        var json = JsonSerializer.SerializeToElement(reply, Web);
        var docs = json.GetProperty("documents").EnumerateArray().ToList();
        Assert.InRange(docs.Count, 1, 3);
        Assert.Contains(docs, d => d.GetProperty("content").GetString()!.Contains("Regent's Park", StringComparison.Ordinal));
        Assert.All(docs, d => Assert.InRange(d.GetProperty("similarity").GetDouble(), 0, 1));
    }

    [Fact]
    public async Task A_partial_transcript_prefetches_the_knowledge_the_model_request_then_uses()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);
        var callId = "call-" + Guid.NewGuid();
        var prefetch = Services.GetRequiredService<KnowledgePrefetch>();
        var hitsBefore = prefetch.Hits;
        await Handler("transcript").HandleAsync(await KnowledgeFixtures.ContextAsync(secret, callId, Transcript(callId, "how much is a nose", "partial")), default);
        await Handler("transcript").HandleAsync(await KnowledgeFixtures.ContextAsync(secret, callId, Transcript(callId, "How much is a nose job?", "partial")), default);

        using var response = await PostLlm(secret, callId, "how much is a nose job");
        Assert.Equal("hit", Assert.Single(response.Headers.GetValues(Frontdesk.Latency.CustomLlmEndpoint.KnowledgeHeader)));
        Assert.Equal(hitsBefore + 1, prefetch.Hits);
        Assert.Contains("£6,500", LastContext(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_changed_final_question_does_not_use_the_stale_prefetch()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);
        var callId = "call-" + Guid.NewGuid();
        await Handler("conversation-update").HandleAsync(
            await KnowledgeFixtures.ContextAsync(secret, callId, Conversation("conversation-update", callId, "how much is a nose job")), default);

        using var response = await PostLlm(secret, callId, "actually where can I park");
        Assert.Equal("stale", Assert.Single(response.Headers.GetValues(Frontdesk.Latency.CustomLlmEndpoint.KnowledgeHeader)));
        var context = LastContext();
        Assert.Contains("Cavendish Square", context, StringComparison.Ordinal);
        Assert.DoesNotContain("£6,500", context, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_prefetch_the_model_request_searches_itself()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);
        using var response = await PostLlm(secret, "call-" + Guid.NewGuid(), "can I pay monthly");
        Assert.Equal("miss", Assert.Single(response.Headers.GetValues(Frontdesk.Latency.CustomLlmEndpoint.KnowledgeHeader)));
        Assert.Contains("Interest-free finance", LastContext(), StringComparison.Ordinal);
    }

    async Task<HttpResponseMessage> PostLlm(string secret, string callId, string question)
    {
        while (fx.Upstream.Requests.TryDequeue(out _)) { }
        using var client = fx.App.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        var response = await client.PostAsJsonAsync("/vapi/llm/chat/completions", new
        {
            model = "frontdesk", stream = false,
            messages = new object[] { new { role = "system", content = "You are the receptionist." }, new { role = "user", content = question } },
            call = new { id = callId },
        });
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return response;
    }

    string LastContext()
    {
        Assert.True(fx.Upstream.Requests.TryDequeue(out var sent));
        var messages = sent.GetProperty("messages").EnumerateArray().ToList();
        return messages[^2].GetProperty("content").GetString()!;
    }
}
