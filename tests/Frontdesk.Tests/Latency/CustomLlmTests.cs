using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Knowledge;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Frontdesk.Tests.Latency;

/// <summary>The app on real Kestrel (TestServer may buffer a response body) with a loopback OpenAI fake upstream.</summary>
public sealed class LlmRelayFixture : IAsyncLifetime
{
    public FakeOpenAi Upstream { get; private set; } = null!;
    public WebApplicationFactory<Program> App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Upstream = await FakeOpenAi.StartAsync();
        App = OnKestrel(Upstream.BaseUrl);
    }

    /// <summary>The app with this upstream, listening on a free loopback port (never the default 5080).</summary>
    public static WebApplicationFactory<Program> OnKestrel(string upstreamBaseUrl)
    {
        var app = TestApp.Factory.WithWebHostBuilder(b =>
        {
            b.UseSetting("FRONTDESK_LLM_BASE_URL", upstreamBaseUrl);
            b.UseSetting("FRONTDESK_LLM_API_KEY", "sk-test");
            b.UseSetting("FRONTDESK_LLM_MODEL", "fake-model");
            b.UseSetting("urls", "http://127.0.0.1:0");
        });
        app.UseKestrel();
        app.StartServer();
        return app;
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}

public sealed class CustomLlmTests(LlmRelayFixture fx) : IClassFixture<LlmRelayFixture>, IDisposable
{
    /// <summary>The upstream is the class's: a test that makes it fail leaves it answering again.</summary>
    public void Dispose()
    {
        fx.Upstream.ErrorStatus = null;
        fx.Upstream.ErrorEventAfter = null;
    }

    static object Request(string question, bool stream = true, string? callId = null) => new
    {
        model = "frontdesk",
        stream,
        temperature = 0.3,
        max_tokens = 250,
        messages = new object[]
        {
            new { role = "system", content = "You are the receptionist of Harley Street Aesthetics." },
            new { role = "assistant", content = "Hello, how can I help?" },
            new { role = "user", content = question },
        },
        call = new { id = callId ?? Guid.NewGuid().ToString() },
        metadata = new { },
        customer = new { number = "+447700900123" },
    };

    HttpClient Client(string secret)
    {
        var c = fx.App.CreateClient();
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        return c;
    }

    static HttpRequestMessage Post(object body) =>
        new(HttpMethod.Post, "/vapi/llm/chat/completions") { Content = JsonContent.Create(body) };

    [Fact]
    public async Task First_byte_reaches_the_caller_before_the_upstream_produces_its_second_token()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        fx.Upstream.Tokens = 50;
        fx.Upstream.Gap = TimeSpan.FromMilliseconds(20);
        fx.Upstream.FailAfter = null;
        fx.Upstream.ToolCall = false;
        fx.Upstream.TokenWrittenAt.Clear();
        using var client = Client(secret);
        using var response = await client.SendAsync(Post(Request("hello")), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var firstLine = await reader.ReadLineAsync();
        var firstAt = Stopwatch.GetTimestamp();
        Assert.StartsWith("data: ", firstLine);
        var chunk = JsonDocument.Parse(firstLine!["data: ".Length..]).RootElement;
        Assert.Equal("chat.completion.chunk", chunk.GetProperty("object").GetString());
        Assert.Equal("t0 ", chunk.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString());

        var rest = await reader.ReadToEndAsync();
        Assert.True(fx.Upstream.TokenWrittenAt.TryGetValue(1, out var secondAt));
        Assert.True(firstAt < secondAt, "the first token was held back until the upstream produced the second");
        var events = rest.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        var text = new StringBuilder("t0 ");
        foreach (var e in events[..^1])
        {
            var delta = JsonDocument.Parse(e["data: ".Length..]).RootElement.GetProperty("choices")[0].GetProperty("delta");
            if (delta.TryGetProperty("content", out var c)) text.Append(c.GetString());
        }
        Assert.Equal(string.Concat(Enumerable.Range(0, 50).Select(i => $"t{i} ")), text.ToString());
    }

    [Fact]
    public async Task Caller_hanging_up_cancels_the_upstream_request()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        await using var upstream = await FakeOpenAi.StartAsync();
        upstream.Tokens = 200;
        upstream.Gap = TimeSpan.FromMilliseconds(20);
        await using var app = LlmRelayFixture.OnKestrel(upstream.BaseUrl);
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        var response = await client.SendAsync(Post(Request("hello")), HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await reader.ReadLineAsync());
        response.Dispose();   // the caller hangs up mid-answer

        var gone = await Task.WhenAny(upstream.ClientGone.Task, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.Same(upstream.ClientGone.Task, gone);
        Assert.True(upstream.TokenWrittenAt.Count < 200);
    }

    [Fact]
    public async Task Upstream_failing_mid_stream_ends_the_stream_with_an_error_event()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        await using var upstream = await FakeOpenAi.StartAsync();
        upstream.Tokens = 10;
        upstream.Gap = TimeSpan.FromMilliseconds(5);
        upstream.FailAfter = 3;
        await using var app = LlmRelayFixture.OnKestrel(upstream.BaseUrl);
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));   // a hang fails the test instead of blocking it
        using var response = await client.SendAsync(Post(Request("hello")), HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var body = await response.Content.ReadAsStringAsync(cts.Token);
        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, events.Length);
        var error = JsonDocument.Parse(events[^1]["data: ".Length..]).RootElement.GetProperty("error");
        Assert.Equal("upstream_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Upstream_error_before_any_token_is_a_502_problem()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        await using var upstream = await FakeOpenAi.StartAsync();
        upstream.ErrorStatus = 500;
        await using var app = TestApp.Factory.WithWebHostBuilder(b => b.UseSetting("FRONTDESK_LLM_BASE_URL", upstream.BaseUrl));
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        using var response = await client.SendAsync(Post(Request("hello")));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("https://frontdesk.dev/problems/upstream", problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_upstream_nobody_answers_is_a_502_problem_saying_it_could_not_be_reached()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        int closed;
        using (var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            l.Start();
            closed = ((IPEndPoint)l.LocalEndpoint).Port;
        }
        await using var app = TestApp.Factory.WithWebHostBuilder(b => b.UseSetting("FRONTDESK_LLM_BASE_URL", $"http://127.0.0.1:{closed}/v1"));
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        foreach (var stream in new[] { true, false })
        {
            using var response = await client.SendAsync(Post(Request("hello", stream)));
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("https://frontdesk.dev/problems/upstream", problem.GetProperty("type").GetString());
            Assert.Equal("The upstream could not be reached or did not answer in time.", problem.GetProperty("detail").GetString());
        }
    }

    [Fact]
    public async Task Tool_calls_from_the_model_pass_through_in_openai_format()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        await using var upstream = await FakeOpenAi.StartAsync();
        upstream.ToolCall = true;
        await using var app = TestApp.Factory.WithWebHostBuilder(b => b.UseSetting("FRONTDESK_LLM_BASE_URL", upstream.BaseUrl));
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        var request = new
        {
            model = "frontdesk", stream = true,
            messages = new object[]
            {
                new { role = "user", content = "book me in for the first slot" },
                new { role = "assistant", content = (string?)null, tool_calls = new[] { new { id = "call_0", type = "function", function = new { name = "check_availability", arguments = "{}" } } } },
                new { role = "tool", tool_call_id = "call_0", content = "Tuesday at 10 is free." },
                new { role = "user", content = "yes that one" },
            },
            tools = new[] { new { type = "function", function = new { name = "book_appointment", description = "Books a slot", parameters = new { type = "object", properties = new { slotId = new { type = "string" } }, required = new[] { "slotId" } } } } },
        };
        using var response = await client.SendAsync(Post(request));
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // Relayed as the model streamed it: the call's id and name first, its arguments in fragments,
        // assembled by index as an OpenAI client does.
        var deltas = Chunks(body).Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Where(d => d.TryGetProperty("tool_calls", out _))
            .SelectMany(d => d.GetProperty("tool_calls").EnumerateArray()).ToList();
        Assert.All(deltas, d => Assert.Equal(0, d.GetProperty("index").GetInt32()));
        Assert.Equal("call_1", deltas[0].GetProperty("id").GetString());
        Assert.Equal("book_appointment", deltas[0].GetProperty("function").GetProperty("name").GetString());
        var arguments = string.Concat(deltas.Select(d => d.GetProperty("function").GetProperty("arguments").GetString()));
        Assert.Equal("s-1", JsonDocument.Parse(arguments).RootElement.GetProperty("slotId").GetString());
        Assert.Contains("\"finish_reason\":\"tool_calls\"", body, StringComparison.Ordinal);

        // The upstream saw the conversation's tool exchange and the tool declaration.
        Assert.True(upstream.Requests.TryDequeue(out var sent));
        Assert.Equal("book_appointment", sent.GetProperty("tools")[0].GetProperty("function").GetProperty("name").GetString());
        Assert.Contains(sent.GetProperty("messages").EnumerateArray(), m => m.GetProperty("role").GetString() == "tool");
    }

    [Fact]
    public async Task Non_streaming_request_gets_one_chat_completion()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        using var client = Client(secret);
        using var response = await client.SendAsync(Post(Request("hello", stream: false)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.Equal("Hello there.", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task Knowledge_for_the_question_is_added_to_the_prompt()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);
        while (fx.Upstream.Requests.TryDequeue(out _)) { }
        using var client = Client(secret);
        using var response = await client.SendAsync(Post(Request("how much is a nose job", stream: false)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(fx.Upstream.Requests.TryDequeue(out var sent));
        var messages = sent.GetProperty("messages").EnumerateArray().ToList();
        // Context sits just before the caller's last message; the prompt's prefix is untouched.
        Assert.Equal("You are the receptionist of Harley Street Aesthetics.", messages[0].GetProperty("content").GetString());
        Assert.Equal("system", messages[^2].GetProperty("role").GetString());
        Assert.Contains("£6,500", messages[^2].GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Equal("how much is a nose job", messages[^1].GetProperty("content").GetString());
    }

    [Fact]
    public async Task Wrong_secret_is_401_and_malformed_body_is_400()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        using var wrong = Client("not-the-secret");
        using var r401 = await wrong.SendAsync(Post(Request("hello")));
        Assert.Equal(HttpStatusCode.Unauthorized, r401.StatusCode);
        Assert.Equal("https://frontdesk.dev/problems/unauthorized", (await r401.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());

        using var client = Client(secret);
        using var noMessages = await client.SendAsync(Post(new { model = "x", messages = Array.Empty<object>() }));
        Assert.Equal(HttpStatusCode.BadRequest, noMessages.StatusCode);
        Assert.Equal("https://frontdesk.dev/problems/validation", (await noMessages.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        using var notJson = await client.PostAsync("/vapi/llm/chat/completions", new StringContent("{not json", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.Equal("https://frontdesk.dev/problems/malformed-request", (await notJson.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Without_an_upstream_configured_the_endpoint_is_a_503_problem()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        using var client = TestApp.Client(null);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        using var response = await client.SendAsync(Post(Request("hello")));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("https://frontdesk.dev/problems/unavailable", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
    }

    /// <summary>The chat.completion.chunk objects of an SSE body (not the error event, not [DONE]).</summary>
    static List<JsonElement> Chunks(string body) =>
        body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Where(e => e.StartsWith("data: {", StringComparison.Ordinal))
            .Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement.Clone())
            .Where(e => e.TryGetProperty("object", out _)).ToList();

    /// <summary>The class's relay and upstream, reset for a test of the wire (no new app: every app that
    /// starts runs the background workers once more against the shared database).</summary>
    async Task<(FakeOpenAi Upstream, Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> App, string Secret)> RelayAsync()
    {
        var (_, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        var upstream = fx.Upstream;
        upstream.Tokens = 4;
        upstream.Gap = TimeSpan.Zero;
        upstream.FirstTokenDelay = TimeSpan.Zero;
        upstream.FailAfter = null;
        upstream.ErrorStatus = null;
        upstream.ErrorEventAfter = null;
        upstream.ToolCall = false;
        while (upstream.Requests.TryDequeue(out _)) { }
        return (upstream, fx.App, secret);
    }

    static async Task<string> PostAsync(Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> app, string secret, object body)
    {
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        using var response = await client.SendAsync(Post(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task An_upstream_error_event_mid_stream_is_relayed_and_ends_the_stream_without_DONE()
    {
        var (upstream, app, secret) = await RelayAsync();
        upstream.ErrorEventAfter = 2;
        var body = await PostAsync(app, secret, Request("hello"));
        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, events.Length);   // two tokens, then the error: the caller never takes half an answer for a whole one
        var error = JsonDocument.Parse(events[^1]["data: ".Length..]).RootElement.GetProperty("error");
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.DoesNotContain("[DONE]", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Legacy_functions_tools_max_tokens_and_stream_options_reach_the_upstream_as_sent_without_Vapis_own_members()
    {
        var (upstream, app, secret) = await RelayAsync();
        const string Sent = """
            {"model": "frontdesk", "stream": true, "max_tokens": 250, "temperature": 0.3, "stream_options": {"include_usage": true},
             "messages": [{"role": "user", "content": "thanks, bye"}],
             "functions": [{"name": "endCall", "description": "End the call.", "parameters": {"type": "object", "properties": {}}}],
             "function_call": "auto",
             "tools": [{"type": "function", "function": {"name": "book_appointment", "strict": true, "parameters": {"type": "object", "properties": {"slotId": {"type": "string"}}, "required": ["slotId"], "additionalProperties": false}}}],
             "tool_choice": "auto", "parallel_tool_calls": false, "seed": 7,
             "call": {"id": "c-1"}, "metadata": {"clinic": "x"}, "customer": {"number": "+447700900123"}, "phoneNumber": {"id": "pn-1"}}
            """;
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        using var response = await client.PostAsync("/vapi/llm/chat/completions", new StringContent(Sent, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(upstream.Requests.TryDequeue(out var forwarded));
        var sent = JsonDocument.Parse(Sent).RootElement;
        foreach (var name in new[] { "stream", "max_tokens", "temperature", "stream_options", "functions", "function_call", "tools", "tool_choice", "parallel_tool_calls", "seed" })
            Assert.True(JsonElement.DeepEquals(sent.GetProperty(name), forwarded.GetProperty(name)), name);
        Assert.False(forwarded.TryGetProperty("max_completion_tokens", out _));
        foreach (var vapiOnly in new[] { "call", "metadata", "customer", "phoneNumber" })
            Assert.False(forwarded.TryGetProperty(vapiOnly, out _), vapiOnly);
        Assert.Equal("fake-model", forwarded.GetProperty("model").GetString());
    }

    [Fact]
    public async Task The_usage_chunk_is_relayed_with_its_usage_and_one_finish_reason_and_every_chunk_keeps_the_upstreams_id_and_created()
    {
        var (upstream, app, secret) = await RelayAsync();
        var body = await PostAsync(app, secret, new
        {
            model = "frontdesk", stream = true, stream_options = new { include_usage = true },
            messages = new object[] { new { role = "user", content = "hello" } },
        });
        Assert.EndsWith("data: [DONE]\n\n", body, StringComparison.Ordinal);
        var chunks = Chunks(body);
        Assert.All(chunks, c =>
        {
            Assert.Equal("chatcmpl-fake", c.GetProperty("id").GetString());
            Assert.Equal(1_700_000_000, c.GetProperty("created").GetInt64());
        });
        Assert.Single(chunks, c => c.GetProperty("choices").GetArrayLength() > 0
            && c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind == JsonValueKind.String);
        var last = chunks[^1];
        Assert.Equal(0, last.GetProperty("choices").GetArrayLength());
        Assert.Equal(13, last.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task The_official_OpenAI_client_streams_through_the_relay_text_and_usage_intact()
    {
        var (upstream, app, secret) = await RelayAsync();
        using var http = app.CreateClient();
        var chat = new OpenAI.Chat.ChatClient("frontdesk", new System.ClientModel.ApiKeyCredential(secret), new OpenAI.OpenAIClientOptions
        {
            Endpoint = new Uri(http.BaseAddress!, "/vapi/llm"),
            Transport = new System.ClientModel.Primitives.HttpClientPipelineTransport(http),
        });
        var text = new StringBuilder();
        OpenAI.Chat.ChatTokenUsage? usage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([OpenAI.Chat.ChatMessage.CreateUserMessage("hello")]))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            usage ??= update.Usage;
        }
        Assert.Equal("t0 t1 t2 t3 ", text.ToString());
        Assert.NotNull(usage);
        Assert.Equal(13, usage.TotalTokenCount);
    }

    [Fact]
    public async Task An_upstream_429_is_a_502_problem_that_names_the_status_and_passes_on_Retry_After()
    {
        var (upstream, app, secret) = await RelayAsync();
        upstream.ErrorStatus = 429;
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        using var response = await client.SendAsync(Post(Request("hello")));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("7", response.Headers.RetryAfter?.ToString());
        var text = await response.Content.ReadAsStringAsync();
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal("https://frontdesk.dev/problems/upstream", problem.GetProperty("type").GetString());
        Assert.Contains("429", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(429, problem.GetProperty("upstreamStatus").GetInt32());
        Assert.Equal("rate_limit_exceeded", problem.GetProperty("upstreamErrorCode").GetString());
        Assert.DoesNotContain("org-secret", text, StringComparison.Ordinal);   // the upstream's message names its account
    }

    [Fact]
    public async Task Tool_call_arguments_sent_as_an_object_reach_the_upstream_as_their_JSON_text()
    {
        var (upstream, app, secret) = await RelayAsync();
        await PostAsync(app, secret, new
        {
            model = "frontdesk", stream = true,
            messages = new object[]
            {
                new { role = "user", content = "book the first one" },
                new { role = "assistant", content = (string?)null, tool_calls = new[] { new { id = "call_0", type = "function",
                    function = new { name = "book_appointment", arguments = new { slotId = "s-1", patientName = "Jane Doe" } } } } },
                new { role = "tool", tool_call_id = "call_0", content = "Booked." },
                new { role = "user", content = "thanks" },
            },
        });
        Assert.True(upstream.Requests.TryDequeue(out var forwarded));
        var arguments = forwarded.GetProperty("messages")[1].GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments");
        Assert.Equal(JsonValueKind.String, arguments.ValueKind);
        var parsed = JsonDocument.Parse(arguments.GetString()!).RootElement;
        Assert.Equal("s-1", parsed.GetProperty("slotId").GetString());
        Assert.Equal("Jane Doe", parsed.GetProperty("patientName").GetString());
    }
}
