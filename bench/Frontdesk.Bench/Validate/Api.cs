using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tenancy;

namespace Frontdesk.Bench.Validate;

/// <summary>A response; ServerMs is the target's own Server-Timing app;dur= when it sends one.</summary>
public sealed record ApiResult(HttpStatusCode Status, JsonElement Body, string Text, double Ms, double? ServerMs = null)
{
    public bool Ok => (int)Status is >= 200 and < 300;
    public Guid Id(string name = "id") => Body.GetProperty(name).GetGuid();
}

/// <summary>HTTP against the target with tokens minted from its JWT secret (and its issuer, when the
/// target checks one: FRONTDESK_JWT_ISSUER).</summary>
public sealed class Api(HttpClient http, byte[] secret, string? issuer = null)
{
    public HttpClient Http { get; } = http;

    public string ServiceToken() => Auth.Mint(secret, new RequestClaims(RequestClaims.ServiceRole, null, "validate", null), TimeSpan.FromHours(1), issuer);

    public string Token(Guid clinic, string appRole, string? sub = null) =>
        Auth.Mint(secret, RequestClaims.ForClinic(clinic, sub ?? $"validate-{appRole}", appRole), TimeSpan.FromHours(1), issuer);

    public async Task<ApiResult> SendAsync(HttpMethod method, string path, string? token, object? body = null,
        IDictionary<string, string>? headers = null, CancellationToken ct = default)
    {
        using var req = new HttpRequestMessage(method, path);
        if (token is not null) req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (headers is not null) foreach (var (k, v) in headers) req.Headers.TryAddWithoutValidation(k, v);
        if (body is not null)
            req.Content = new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        var t = Stopwatch.GetTimestamp();
        using var res = await Http.SendAsync(req, ct);
        var text = await res.Content.ReadAsStringAsync(ct);
        var ms = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        JsonElement json = default;
        if (text.Length > 0 && (text[0] is '{' or '['))
            try { json = JsonDocument.Parse(text).RootElement.Clone(); } catch (JsonException) { }
        double? server = res.Headers.TryGetValues("Server-Timing", out var st)
                         && st.FirstOrDefault() is { } timing && timing.StartsWith("app;dur=", StringComparison.Ordinal)
                         && double.TryParse(timing["app;dur=".Length..], System.Globalization.CultureInfo.InvariantCulture, out var d) ? d : null;
        return new ApiResult(res.StatusCode, json, text, ms, server);
    }

    public Task<ApiResult> GetAsync(string path, string? token, CancellationToken ct = default) => SendAsync(HttpMethod.Get, path, token, null, null, ct);
    public Task<ApiResult> PostAsync(string path, string? token, object body, CancellationToken ct = default) => SendAsync(HttpMethod.Post, path, token, body, null, ct);

    public static async Task<ApiResult> Expect(Task<ApiResult> call, string what)
    {
        var r = await call;
        if (!r.Ok) throw new InvalidOperationException($"{what} failed: {(int)r.Status} {r.Text}");
        return r;
    }
}
