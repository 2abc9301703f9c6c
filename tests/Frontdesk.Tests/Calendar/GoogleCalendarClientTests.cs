using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Frontdesk.Bench;
using Frontdesk.Calendar;

namespace Frontdesk.Tests.Calendar;

/// <summary>
/// Our Calendar client against the loopback Google fake, outside any app: how each way of not getting
/// an answer is reported (the booking's calendar_error and the linking problem show these texts), and
/// which answers are worth retrying.
/// </summary>
public sealed class GoogleCalendarClientTests : IAsyncLifetime
{
    GoogleFake _fake = null!;
    readonly List<string> _files = [];

    public async Task InitializeAsync() => _fake = await GoogleFake.StartAsync();

    public async Task DisposeAsync()
    {
        await _fake.DisposeAsync();
        foreach (var f in _files) File.Delete(f);
    }

    GoogleCalendarClient Client(string? credentialsPath = null, string? apiBaseUrl = null, double timeoutSeconds = 60) =>
        new(new HttpClient(), new CalendarOptions
        {
            CredentialsPath = credentialsPath ?? _fake.CredentialsPath, ApiBaseUrl = apiBaseUrl ?? _fake.BaseUrl, TimeoutSeconds = timeoutSeconds,
        });

    /// <summary>The fake's service account with <paramref name="edit"/> applied to its JSON key file.</summary>
    string Credentials(Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(_fake.CredentialsPath))!.AsObject();
        edit(json);
        var path = Path.Combine(Path.GetTempPath(), $"google-sa-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json.ToJsonString());
        _files.Add(path);
        return path;
    }

    static string ClosedPortUrl()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return $"http://127.0.0.1:{((IPEndPoint)l.LocalEndpoint).Port}";
    }

    [Fact]
    public async Task A_working_credential_reads_the_calendar_and_reuses_its_token()
    {
        var cal = CalendarTestHost.NewCalendarId();
        _fake.AddCalendar(cal, "Dr Test's diary");
        var client = Client();
        Assert.True(client.Enabled);
        Assert.Equal(_fake.ClientEmail, client.ServiceAccountEmail);
        var r = await client.GetCalendarAsync(cal, default);
        Assert.True(r.Ok, r.Describe());
        Assert.Equal("Dr Test's diary", r.Body.GetProperty("description").GetString());
        Assert.Equal(404, (await client.GetCalendarAsync(CalendarTestHost.NewCalendarId(), default)).Status);
        Assert.Equal(1, _fake.TokenRequests);
    }

    [Fact]
    public async Task A_key_Google_does_not_recognise_is_reported_as_the_token_endpoints_refusal_without_the_key()
    {
        using var other = RSA.Create(2048);
        var pem = other.ExportPkcs8PrivateKeyPem();
        var client = Client(Credentials(j => j["private_key"] = pem));
        var e = await Assert.ThrowsAsync<GoogleUnavailableException>(() => client.GetCalendarAsync(CalendarTestHost.NewCalendarId(), default));
        Assert.Equal("Google token endpoint refused: invalid_grant Invalid JWT Signature.", e.Message);
        Assert.DoesNotContain("PRIVATE KEY", e.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, _fake.RejectedBearer);   // no API call went out without a token
    }

    [Fact]
    public async Task A_token_endpoint_nobody_answers_and_an_API_nobody_answers_are_told_apart()
    {
        var closed = ClosedPortUrl();
        var noTokens = Client(Credentials(j => j["token_uri"] = closed + "/token"));
        var e = await Assert.ThrowsAsync<GoogleUnavailableException>(() => noTokens.GetCalendarAsync("c", default));
        Assert.StartsWith("Google token endpoint failed: ", e.Message, StringComparison.Ordinal);

        var noApi = Client(apiBaseUrl: closed);
        e = await Assert.ThrowsAsync<GoogleUnavailableException>(() => noApi.GetCalendarAsync("c", default));
        Assert.Equal("Google could not be reached: ConnectionError", e.Message);
    }

    [Fact]
    public async Task A_call_slower_than_the_timeout_is_unavailable_and_says_how_long_it_waited()
    {
        var cal = CalendarTestHost.NewCalendarId();
        _fake.AddCalendar(cal);
        _fake.DelayNextInsert = TimeSpan.FromSeconds(60);
        var client = Client(timeoutSeconds: 5);   // well above the token request's time on a loaded machine
        var e = await Assert.ThrowsAsync<GoogleUnavailableException>(() =>
            client.InsertEventAsync(cal, new JsonObject
            {
                ["start"] = new JsonObject { ["dateTime"] = "2030-01-01T10:00:00Z" }, ["end"] = new JsonObject { ["dateTime"] = "2030-01-01T10:30:00Z" },
            }, default));
        Assert.Equal("Google did not answer within 5 s", e.Message);
        // The caller's own cancellation is not Google's fault: it is not turned into "unavailable".
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client().GetCalendarAsync(cal, cancelled.Token));
    }

    [Fact]
    public async Task Without_credentials_the_client_is_off_and_refuses_to_call()
    {
        var client = new GoogleCalendarClient(new HttpClient(), new CalendarOptions { ApiBaseUrl = _fake.BaseUrl });
        Assert.False(client.Enabled);
        Assert.Null(client.ServiceAccountEmail);
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetCalendarAsync("c", default));
    }

    static GoogleResponse Answer(int status, string? body) =>
        new(status, body is null ? default : JsonDocument.Parse(body).RootElement.Clone());

    static string Error(int code, string reason, string message) =>
        new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["code"] = code, ["message"] = message,
                ["errors"] = new JsonArray(new JsonObject { ["domain"] = "usageLimits", ["reason"] = reason, ["message"] = message }),
            },
        }.ToJsonString();

    [Theory]
    [InlineData(429, "rateLimitExceeded", true)]
    [InlineData(403, "rateLimitExceeded", true)]
    [InlineData(403, "userRateLimitExceeded", true)]
    [InlineData(403, "quotaExceeded", true)]
    [InlineData(403, "forbidden", false)]           // not shared with us: retrying cannot help
    [InlineData(401, "authError", true)]            // an expired token: the next call gets a new one
    [InlineData(408, "timeout", true)]
    [InlineData(500, "backendError", true)]
    [InlineData(503, "backendError", true)]
    [InlineData(400, "invalid", false)]
    [InlineData(404, "notFound", false)]
    [InlineData(409, "duplicate", false)]
    [InlineData(410, "fullSyncRequired", false)]
    public void Throttling_Googles_own_failures_and_expired_tokens_are_retried_refusals_are_not(int status, string reason, bool transient)
    {
        var r = Answer(status, Error(status, reason, "Something"));
        Assert.Equal(reason, r.Reason);
        Assert.Equal(transient, r.Transient);
        Assert.False(r.Ok);
        Assert.Equal($"Google answered {status} {reason}: Something", r.Describe());
    }

    [Theory]
    [InlineData(502, null, "Google answered 502")]                                          // a proxy's HTML page: no body we could read
    [InlineData(500, "[1, 2]", "Google answered 500")]                                      // not an object
    [InlineData(403, """{"error": "access_denied"}""", "Google answered 403")]             // OAuth-style error string
    [InlineData(403, """{"error": {"errors": []}}""", "Google answered 403")]              // no reason given
    [InlineData(404, """{"error": {"message": "Not Found"}}""", "Google answered 404: Not Found")]
    public void An_error_body_without_Googles_usual_shape_is_described_by_what_it_has(int status, string? body, string described)
    {
        var r = Answer(status, body);
        Assert.Null(r.Reason);
        Assert.Equal(described, r.Describe());
        Assert.Equal(status >= 500, r.Transient);   // a 403 without a rate-limit reason is a refusal
    }

    [Fact]
    public void A_long_error_message_is_cut_to_300_characters()
    {
        var r = Answer(400, Error(400, "invalid", new string('x', 500)));
        Assert.Equal(300, r.Describe().Length);
        Assert.StartsWith("Google answered 400 invalid: xxx", r.Describe(), StringComparison.Ordinal);
        Assert.True(Answer(204, null).Ok);
    }
}
