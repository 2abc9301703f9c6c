using System.Net;
using System.Text.Json.Nodes;
using Frontdesk.Bench;
using Frontdesk.Calls;

namespace Frontdesk.Tests.Calls;

/// <summary>The List Calls client against the loopback Vapi: paging, and every way an answer can be unusable.</summary>
public sealed class VapiApiClientTests : IAsyncLifetime
{
    FakeVapi _vapi = null!;
    static readonly HttpClient Http = new();

    public async Task InitializeAsync() => _vapi = await FakeVapi.StartAsync();

    public async Task DisposeAsync() => await _vapi.DisposeAsync();

    VapiApiClient Client(int pageLimit = 2, double timeoutSeconds = 5) =>
        new(Http, new VapiOptions { ApiBaseUrl = _vapi.Url + "/", ReconcilePageLimit = pageLimit, TimeoutSeconds = timeoutSeconds });

    string KeyWithCalls(int count, DateTimeOffset since)
    {
        var key = Guid.NewGuid().ToString();
        _vapi.AddKey(key);
        for (var i = 0; i < count; i++)
            _vapi.AddCall(key, FakeVapi.EndedCall($"call-{i}", "+447900000001", "hello", since.AddMinutes(i + 1), since.AddMinutes(i + 2), assistantId: "asst_1"));
        return key;
    }

    [Fact]
    public async Task Pages_backwards_until_a_short_page_and_returns_each_call_once()
    {
        var since = DateTimeOffset.UtcNow.AddHours(-2);
        var key = KeyWithCalls(5, since);
        var calls = await Client(pageLimit: 2).ListCallsAsync(key, since, assistantId: "asst_1", phoneNumberId: null, default);
        Assert.Equal(["call-4", "call-3", "call-2", "call-1", "call-0"], calls.Select(c => c.Str("id")));
        Assert.Contains(_vapi.Queries, q => q.Contains("assistantId=asst_1", StringComparison.Ordinal) && q.Contains("createdAtLe=", StringComparison.Ordinal));
        Assert.Empty(await Client().ListCallsAsync(key, DateTimeOffset.UtcNow, null, null, default));
    }

    [Theory]
    [InlineData(429, null, "Vapi rate-limited the request (429)")]
    [InlineData(403, null, "Vapi refused the API key (403)")]
    [InlineData(502, "<html>Bad gateway</html>", "Vapi answered 502")]
    [InlineData(200, "<html>captive portal</html>", "Vapi answered a body that is not JSON.")]
    [InlineData(200, """{"message":"ok"}""", "Vapi answered something other than a list of calls.")]
    [InlineData(404, null, "Vapi answered 404 to List Calls.")]
    public async Task An_unusable_answer_is_a_VapiApiException_that_says_what_happened(int status, string? body, string expected)
    {
        var key = KeyWithCalls(1, DateTimeOffset.UtcNow.AddHours(-1));
        _vapi.ScriptRaw(key, status, body);
        var e = await Assert.ThrowsAsync<VapiApiException>(() => Client().ListCallsAsync(key, DateTimeOffset.UtcNow.AddHours(-1), null, null, default));
        Assert.StartsWith(expected, e.Message);
        Assert.DoesNotContain(key, e.Message);
    }

    [Fact]
    public async Task A_slow_Vapi_times_out_and_a_limit_Vapi_refuses_is_reported()
    {
        var key = KeyWithCalls(1, DateTimeOffset.UtcNow.AddHours(-1));
        _vapi.ScriptRaw(key, 200, "[]", TimeSpan.FromSeconds(3));
        var slow = await Assert.ThrowsAsync<VapiApiException>(() => Client(timeoutSeconds: 0.2).ListCallsAsync(key, DateTimeOffset.UtcNow.AddHours(-1), null, null, default));
        Assert.StartsWith("Vapi did not answer within 0.2 s", slow.Message);

        var refused = await Assert.ThrowsAsync<VapiApiException>(() => Client(pageLimit: 1001).ListCallsAsync(key, DateTimeOffset.UtcNow.AddHours(-1), null, null, default));
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
    }

    [Fact]
    public void Options_back_off_from_the_base_up_to_the_interval()
    {
        var o = new VapiOptions { ReconcileSeconds = 300, ReconcileRetryBaseSeconds = 30 };
        Assert.InRange(o.Backoff(1).TotalSeconds, 24, 36);
        Assert.InRange(o.Backoff(3).TotalSeconds, 96, 144);
        Assert.InRange(o.Backoff(30).TotalSeconds, 240, 360);
        Assert.False(VapiOptions.HasValidBaseUrl(new VapiOptions { ApiBaseUrl = "ftp://vapi" }));
        Assert.True(VapiOptions.HasValidBaseUrl(new VapiOptions()));
        Assert.False(new VapiOptions { ReconcileSeconds = 0 }.Reconciles);
    }
}
