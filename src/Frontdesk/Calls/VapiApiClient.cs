using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Frontdesk.Calls;

/// <summary>A Vapi API request that did not give a usable answer. The message names the status and
/// what to do; it never holds the key or a response body.</summary>
public sealed class VapiApiException(string message, HttpStatusCode? status = null, Exception? inner = null) : Exception(message, inner)
{
    public HttpStatusCode? Status { get; } = status;
}

/// <summary>
/// The part of Vapi's REST API reconciliation needs: <c>GET {base}/call</c> (List Calls) with the
/// clinic's private API key as Bearer. Vapi answers a JSON array of Call objects, newest first, at
/// most <c>limit</c> (default 100, maximum 1000) per request, filtered by <c>createdAtGt/Lt/Ge/Le</c>,
/// <c>assistantId</c> and <c>phoneNumberId</c>; errors are <c>{message, error, statusCode}</c>.
/// Pages are walked backwards with <c>createdAtLe</c> = the oldest call seen (ids de-duplicated).
/// </summary>
public sealed class VapiApiClient(HttpClient http, VapiOptions options)
{
    public async Task<IReadOnlyList<JsonElement>> ListCallsAsync(string apiKey, DateTimeOffset createdAfter, string? assistantId,
        string? phoneNumberId, CancellationToken ct)
    {
        var calls = new List<JsonElement>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        DateTimeOffset? oldest = null;
        for (var page = 0; page < options.ReconcileMaxPages; page++)
        {
            var query = new List<string>
            {
                "limit=" + options.ReconcilePageLimit.ToString(CultureInfo.InvariantCulture),
                "createdAtGt=" + Iso(createdAfter),
            };
            if (oldest is { } before) query.Add("createdAtLe=" + Iso(before));
            if (!string.IsNullOrEmpty(phoneNumberId)) query.Add("phoneNumberId=" + Uri.EscapeDataString(phoneNumberId));
            else if (!string.IsNullOrEmpty(assistantId)) query.Add("assistantId=" + Uri.EscapeDataString(assistantId));

            var items = await GetArrayAsync(apiKey, "call?" + string.Join('&', query), ct);
            var added = 0;
            foreach (var call in items)
            {
                if (call.Str("id") is not { Length: > 0 } id || !seen.Add(id)) continue;
                calls.Add(call);
                added++;
                if (VapiMessage.Time(call.Get("createdAt")) is { } created && (oldest is null || created < oldest)) oldest = created;
            }
            if (items.Count < options.ReconcilePageLimit || added == 0 || oldest is null) break;
        }
        return calls;
    }

    async Task<IReadOnlyList<JsonElement>> GetArrayAsync(string apiKey, string relative, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(options.ApiBaseUrl.TrimEnd('/') + "/"), relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new VapiApiException($"Vapi did not answer within {options.TimeoutSeconds:0.#} s.", null, e);
        }
        catch (HttpRequestException e)
        {
            throw new VapiApiException($"Vapi could not be reached ({e.HttpRequestError}).", null, e);
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
                throw new VapiApiException(Describe(response.StatusCode), response.StatusCode);
            try
            {
                using var doc = JsonDocument.Parse(await response.Content.ReadAsStreamAsync(ct));
                if (doc.RootElement.ValueKind != JsonValueKind.Array)
                    throw new VapiApiException("Vapi answered something other than a list of calls.", response.StatusCode);
                return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
            }
            catch (JsonException e)
            {
                throw new VapiApiException("Vapi answered a body that is not JSON.", response.StatusCode, e);
            }
        }
    }

    static string Describe(HttpStatusCode status) => (int)status switch
    {
        401 or 403 => $"Vapi refused the API key ({(int)status}): set the clinic's private vapiApiKey again.",
        429 => "Vapi rate-limited the request (429); retrying later.",
        >= 500 => $"Vapi answered {(int)status}; retrying later.",
        _ => $"Vapi answered {(int)status} to List Calls.",
    };

    static string Iso(DateTimeOffset t) => Uri.EscapeDataString(t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
}
