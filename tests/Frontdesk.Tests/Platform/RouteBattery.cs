using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Frontdesk.Bench;
using Frontdesk.BookingPage;
using Frontdesk.FollowUp;
using Frontdesk.Messaging;
using Frontdesk.Platform;
using Frontdesk.Tenancy;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;

namespace Frontdesk.Tests.Platform;

/// <summary>One generated request: which route, what was malformed, how to build it.</summary>
public sealed record BatteryRequest(string Route, string Label, Func<HttpRequestMessage> Create);

/// <summary>
/// Every POST, PUT and PATCH route of the app, found in its EndpointDataSource (so a route added
/// later is covered without touching this file), each with a seed body that gets past
/// authentication — the caller's own clinic, a service token where the route demands one, the
/// clinic's Vapi secret, a valid Twilio signature, the booking page's CSRF pair — and the malformed
/// variants of that seed from <see cref="MalformedBodies"/>.
/// </summary>
public sealed partial class RouteBattery
{
    const string Fresh = "@fresh";   // replaced by a new id in every request, so idempotency never short-circuits a variant

    static readonly string[] WriteMethods = ["POST", "PUT", "PATCH"];

    readonly WebApplicationFactory<Program> _app;
    readonly TestClinic _clinic;
    readonly string _secret;
    readonly Guid _patientId, _bookingId, _leadId;
    readonly string _bookingToken, _cancelToken;
    // The clinic's own sender number: an inbound SMS to it concerns this clinic only, not every clinic on the shared number.
    readonly string _clinicNumber;
    readonly string _adminToken = "", _serviceToken = TestApp.ServiceToken();

    public Guid ClinicId => _clinic.Id;
    public string NamePrefix { get; } = "Battery " + Guid.NewGuid().ToString("N")[..8];
    public HttpClient Client { get; }
    public IReadOnlyList<RouteEndpoint> Routes { get; }

    RouteBattery(WebApplicationFactory<Program> app, TestClinic clinic, string secret, Guid patientId, Guid bookingId, Guid leadId, string clinicNumber,
        HttpClient client)
    {
        _clinicNumber = clinicNumber;
        _app = app;
        _clinic = clinic;
        _secret = secret;
        _patientId = patientId;
        _bookingId = bookingId;
        _leadId = leadId;
        Client = client;
        _adminToken = TestApp.Token(RequestClaims.ForClinic(clinic.Id, "battery-admin", "admin"));
        _bookingToken = app.Services.GetRequiredService<BookingLinkToken>().Create(clinic.Id, leadId, "Rhinoplasty", DateTimeOffset.UtcNow.AddDays(1));
        _cancelToken = app.Services.GetRequiredService<CancelLinkToken>().Create(clinic.Id, bookingId, leadId, DateTimeOffset.UtcNow.AddDays(5));
        Routes = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Intersect(WriteMethods).Any() == true)
            .OrderBy(e => e.RoutePattern.RawText, StringComparer.Ordinal).ToList();
    }

    /// <summary>A clinic with a Vapi secret, slots, a patient, a booking and a lead to aim at.</summary>
    public static async Task<RouteBattery> PrepareAsync(WebApplicationFactory<Program> app)
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 12);
        using var svc = TestApp.Service();
        var patient = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinic.Id}/patients",
            new { name = "Jane Doe", phone = TwilioFixture.NewPhone() }))).GetProperty("id").GetGuid();
        var booking = (await TestClinic.Json(await svc.PostAsJsonAsync("/functions/v1/claim_slot_atomic",
            new { slotId = clinic.SlotIds[0], patientId = patient, clinicId = clinic.Id }))).GetProperty("bookingId").GetGuid();
        using var admin = TestApp.As(clinic.Id);
        var lead = (await TestClinic.Json(await admin.PostAsJsonAsync("/functions/v1/trigger_followup_sms", new
        {
            eventType = "call_ended", callId = "call-" + Guid.NewGuid().ToString("N"), patientPhone = TwilioFixture.NewPhone(),
            patientName = "Jane Doe", keyword = "Rhinoplasty", bookingConfirmed = false, transcript = "rhinoplasty, bye",
        }))).GetProperty("leadId").GetGuid();
        var clinicNumber = TwilioFixture.NewPhone();
        await TestApp.ExecAsync("update clinics set sms_from = $1 where id = $2", clinicNumber, clinic.Id);
        var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        return new RouteBattery(app, clinic, secret, patient, booking, lead, clinicNumber, client);
    }

    /// <summary>The CSRF pair of the booking and cancel pages (the cookie stays in <see cref="Client"/>).</summary>
    async Task<(string Book, string Cancel)> CsrfAsync()
    {
        async Task<string> Field(string path)
        {
            var html = await Client.GetStringAsync(path);
            return CsrfValue().Match(html) is { Success: true } m ? m.Groups[1].Value : "";
        }
        return (await Field("/book/" + _bookingToken), await Field("/book/cancel/" + _cancelToken));
    }

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]*)\"")]
    private static partial Regex CsrfValue();

    /// <param name="perPath">How many of the bad values each member of a seed gets (all by default).</param>
    public async Task<IReadOnlyList<BatteryRequest>> RequestsAsync(int perPath = int.MaxValue)
    {
        var (bookCsrf, cancelCsrf) = await CsrfAsync();
        var requests = new List<BatteryRequest>();
        foreach (var e in Routes)
        {
            var method = e.Metadata.GetMetadata<IHttpMethodMetadata>()!.HttpMethods.First(WriteMethods.Contains);
            var raw = e.RoutePattern.RawText ?? "";
            var path = Fill(e);
            var route = method + " " + raw;
            var auth = Authenticator(e, raw);
            if (raw.StartsWith("/twilio/", StringComparison.Ordinal) || raw.StartsWith("/book/", StringComparison.Ordinal))
            {
                var seed = FormSeed(raw, raw.StartsWith("/book/cancel", StringComparison.Ordinal) ? cancelCsrf : bookCsrf);
                foreach (var (label, body) in MalformedBodies.ForForm(seed))
                    requests.Add(new BatteryRequest(route, label, () => FormRequest(method, path, body, raw)));
                // And JSON where a form is expected.
                requests.Add(new BatteryRequest(route, "JSON instead of a form", () => JsonRequest(method, path, "{\"a\":1}"u8.ToArray(), auth)));
                continue;
            }
            foreach (var seed in JsonSeeds(e, raw))
                foreach (var body in MalformedBodies.For(seed, perPath))
                    requests.Add(new BatteryRequest(route, body.Label, () => JsonRequest(method, path, body.Bytes, auth)));
            requests.Add(new BatteryRequest(route, "form instead of JSON", () =>
            {
                var r = JsonRequest(method, path, "a=1&b=2"u8.ToArray(), auth);
                r.Content!.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
                return r;
            }));
        }
        return requests;
    }

    string Fill(RouteEndpoint e)
    {
        var path = e.RoutePattern.RawText ?? "";
        foreach (var p in e.RoutePattern.Parameters)
        {
            var value = p.Name switch
            {
                "clinicId" => _clinic.Id.ToString(),
                "practitionerId" => _clinic.PractitionerId.ToString(),
                "patientId" => _patientId.ToString(),
                "bookingId" => _bookingId.ToString(),
                "name" => "Rhinoplasty",
                "token" when path.StartsWith("/book/cancel", StringComparison.Ordinal) => _cancelToken,
                "token" => _bookingToken,
                _ => Guid.NewGuid().ToString(),
            };
            path = RouteParameter().Replace(path, m => m.Groups[1].Value == p.Name ? value : m.Value);
        }
        return path;
    }

    [GeneratedRegex(@"\{([A-Za-z_]+)(?::[^}]*)?\}")]
    private static partial Regex RouteParameter();

    Action<HttpRequestMessage> Authenticator(RouteEndpoint e, string raw)
    {
        if (e.Metadata.GetMetadata<IAllowAnonymous>() is not null)
            return raw.StartsWith("/vapi/", StringComparison.Ordinal)
                ? r => { r.Headers.Add("X-Vapi-Secret", _secret); r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _secret); }
                : _ => { };
        var service = e.Metadata.GetOrderedMetadata<IAuthorizeData>().Any(a => a.Policy == Auth.Policies.ServiceRole);
        var token = service ? _serviceToken : _adminToken;
        return r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    static byte[] WithFreshIds(byte[] body)
    {
        var marker = Encoding.UTF8.GetBytes(Fresh);
        if (body.AsSpan().IndexOf(marker) < 0) return body;
        var result = new List<byte>(body.Length + 64);
        var span = body.AsSpan();
        int at;
        while ((at = span.IndexOf(marker)) >= 0)
        {
            result.AddRange(span[..at]);
            result.AddRange(Encoding.UTF8.GetBytes(Guid.NewGuid().ToString("N")));
            span = span[(at + marker.Length)..];
        }
        result.AddRange(span);
        return [.. result];
    }

    static HttpRequestMessage JsonRequest(string method, string path, byte[] body, Action<HttpRequestMessage> auth)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new ByteArrayContent(WithFreshIds(body)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        auth(request);
        return request;
    }

    /// <summary>A form post; Twilio's are signed over the fields as the server decodes them, the way Twilio signs what it sends.</summary>
    static HttpRequestMessage FormRequest(string method, string path, string body, string raw)
    {
        body = body.Replace(Fresh, Guid.NewGuid().ToString("N"), StringComparison.Ordinal);
        var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new StringContent(body, Encoding.ASCII) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
        if (raw.StartsWith("/twilio/", StringComparison.Ordinal))
        {
            var reader = new FormReader(body) { ValueCountLimit = int.MaxValue, KeyLengthLimit = int.MaxValue, ValueLengthLimit = int.MaxValue };
            var fields = reader.ReadForm().SelectMany(f => f.Value.Select(v => new KeyValuePair<string, string>(f.Key, v ?? ""))).ToList();
            request.Headers.Add("X-Twilio-Signature", TwilioSignature.Compute(FakeTwilio.AuthToken, "https://frontdesk.test" + path, fields));
        }
        return request;
    }

    IReadOnlyList<KeyValuePair<string, string>> FormSeed(string raw, string csrf) => raw switch
    {
        "/twilio/status" => [new("MessageSid", "SM" + Fresh), new("MessageStatus", "delivered"), new("AccountSid", FakeTwilio.AccountSid), new("ErrorCode", "30003")],
        "/twilio/inbound" => [new("From", TwilioFixture.NewPhone()), new("To", _clinicNumber), new("Body", "HELP"), new("MessageSid", "SM" + Fresh)],
        _ => [new(PageGuard.CsrfField, csrf), new("slot", _clinic.SlotIds[^1].ToString())],
    };

    JsonNode[] JsonSeeds(RouteEndpoint e, string raw)
    {
        if (e.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType is { } type && type != typeof(HttpRequest))
            return [ValueFor(type, "body") switch { JsonObject o => o, JsonArray a => a, var other => new JsonObject { ["value"] = other } }];
        return raw switch
        {
            "/vapi/webhook" => VapiSeeds(),
            "/vapi/llm/chat/completions" => [LlmSeed()],
            _ => [new JsonObject { ["a"] = "b" }],
        };
    }

    /// <summary>A plausible value for every constructor parameter of the body record (or, without one,
    /// every settable property), by name and type.</summary>
    JsonObject SeedOf(Type type)
    {
        var seed = new JsonObject();
        var ctor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).FirstOrDefault();
        var members = ctor is { } c && c.GetParameters().Length > 0
            ? c.GetParameters().Select(p => (p.Name!, p.ParameterType))
            : type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).Select(p => (p.Name, p.PropertyType));
        foreach (var (member, memberType) in members)
        {
            var name = JsonNamingPolicy.CamelCase.ConvertName(member);
            seed[name] = ValueFor(memberType, name);
        }
        return seed;
    }

    JsonNode? ValueFor(Type type, string name)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        var start = DateTimeOffset.UtcNow.Date.AddDays(60).AddHours(9);
        if (t == typeof(Guid))
            return name switch
            {
                "slotId" => _clinic.SlotIds[^1].ToString(),
                "patientId" => _patientId.ToString(),
                "clinicId" => _clinic.Id.ToString(),
                "practitionerId" => _clinic.PractitionerId.ToString(),
                _ => Guid.NewGuid().ToString(),
            };
        if (t == typeof(string))
            return name switch
            {
                "name" => NamePrefix + " " + Fresh,
                "phone" or "patientPhone" or "smsFrom" => TwilioFixture.NewPhone(),
                "email" => "jane@example.com",
                "timezone" => "Europe/London",
                "callId" => "call-" + Fresh,
                "eventType" => "call_ended",
                "keyword" => "Rhinoplasty",
                "patientName" => "Jane Doe",
                "transcript" => "My email is jane@example.com and I asked about rhinoplasty.",
                "title" => "Opening hours",
                "source" => "hours-" + Fresh + ".md",
                "content" => "# Opening hours\n\nWe are open **Monday to Friday**, 9 to 6.\n\n- Saturday by appointment",
                "phrase" => "open times " + Fresh[..3],
                "expansion" => "opening hours",
                "outboundAgent" => "sarah_outbound",
                "agentName" => "Sarah",
                "smsTemplate" => "Hi {{patientName}}, book here: {{bookingLink}}",
                "quietStart" => "21:00",
                "quietEnd" => "08:00",
                "guidePath" => "/guides/rhinoplasty-guide.pdf",
                "calendarId" => "clinic-" + Fresh + "@group.calendar.google.com",
                "holder" => "holder-" + Fresh,
                _ => "text",
            };
        if (t == typeof(int) || t == typeof(long)) return name == "durationMinutes" ? 30 : name == "ttlSeconds" ? 60 : 1;
        if (t == typeof(double) || t == typeof(decimal) || t == typeof(float)) return 12.5;
        if (t == typeof(bool)) return false;
        if (t == typeof(DateTimeOffset) || t == typeof(DateTime))
            return name.StartsWith("end", StringComparison.Ordinal) ? start.AddHours(1).ToString("O") : start.ToString("O");
        if (t == typeof(string[]) || typeof(IEnumerable<string>).IsAssignableFrom(t)) return new JsonArray("nose", "nose reshaping");
        if (t.IsEnum) return JsonNamingPolicy.CamelCase.ConvertName(Enum.GetNames(t)[0]);
        if (t.IsArray && t.GetElementType() is { } element) return new JsonArray(ValueFor(element, name));
        if (t.IsGenericType && t.GetGenericArguments() is [var item] && typeof(System.Collections.IEnumerable).IsAssignableFrom(t))
            return new JsonArray(ValueFor(item, name));
        if (t.IsGenericType && t.GetGenericArguments() is [_, var value] && typeof(System.Collections.IEnumerable).IsAssignableFrom(t))
            return new JsonObject { ["key"] = ValueFor(value, name) };
        if (t == typeof(JsonElement) || t == typeof(JsonNode) || t == typeof(object)) return new JsonObject { ["a"] = "b" };
        if ((t.IsClass || t.IsValueType) && !t.IsPrimitive && t != typeof(string)) return SeedOf(t);
        return "text";
    }

    static JsonNode[] VapiSeeds() =>
    [
        JsonNode.Parse("""
            {"message": {"type": "end-of-call-report", "timestamp": 1768385046123, "endedReason": "customer-ended-call",
              "startedAt": "2026-01-14T10:00:00.000Z", "endedAt": "2026-01-14T10:04:05.000Z", "cost": 0.1234,
              "analysis": {"summary": "Asked about opening hours", "structuredData": {"bookingConfirmed": false}, "successEvaluation": "true"},
              "artifact": {"transcript": "User: when are you open? AI: nine to six.",
                "messages": [{"role": "user", "message": "when are you open", "time": 1768384805000, "secondsFromStart": 5.1}],
                "performanceMetrics": {"turnLatencies": [{"modelLatency": 420, "voiceLatency": 180, "transcriberLatency": 90, "endpointingLatency": 60, "turnLatency": 750}]}},
              "call": {"id": "@fresh", "type": "inboundPhoneCall"}, "customer": {"number": "+447900123456"}}}
            """)!,
        JsonNode.Parse("""
            {"message": {"type": "tool-calls", "timestamp": 1768385046123, "call": {"id": "@fresh"}, "customer": {"number": "+447900123456"},
              "toolCallList": [{"id": "tc-@fresh", "type": "function", "function": {"name": "check_availability", "arguments": {"partOfDay": "morning"}}},
                               {"id": "tc2-@fresh", "type": "function", "function": {"name": "lookup_knowledge", "arguments": "{\"question\":\"when are you open\"}"}}],
              "toolWithToolCallList": [{"type": "function", "function": {"name": "cancel_appointment"}, "toolCall": {"id": "tc3-@fresh", "function": {"name": "cancel_appointment", "arguments": {"bookingId": "nope"}}}}]}}
            """)!,
        JsonNode.Parse("""{"message": {"type": "status-update", "status": "in-progress", "timestamp": "2026-01-14T10:00:01Z", "call": {"id": "@fresh"}}}""")!,
        JsonNode.Parse("""{"message": {"type": "assistant-request", "call": {"id": "@fresh", "assistantId": null}, "customer": {"number": "+447900123456"}, "phoneNumber": {"id": "pn-1"}}}""")!,
        JsonNode.Parse("""{"message": {"type": "function-call", "call": {"id": "@fresh"}, "functionCall": {"name": "check_availability", "parameters": {"partOfDay": "afternoon"}}}}""")!,
        JsonNode.Parse("""{"message": {"type": "knowledge-base-request", "call": {"id": "@fresh"}, "messages": [{"role": "user", "content": "where are you"}], "messagesOpenAIFormatted": [{"role": "user", "content": "where are you"}]}}""")!,
        JsonNode.Parse("""{"message": {"type": "transcript", "transcriptType": "partial", "role": "user", "transcript": "how much is a nose job", "call": {"id": "@fresh"}}}""")!,
        JsonNode.Parse("""{"message": {"type": "conversation-update", "call": {"id": "@fresh"}, "messages": [{"role": "user", "message": "how much"}], "messagesOpenAIFormatted": [{"role": "user", "content": "how much"}]}}""")!,
        JsonNode.Parse("""{"message": {"type": "hang", "call": {"id": "@fresh"}}}""")!,
    ];

    static JsonNode LlmSeed() => JsonNode.Parse("""
        {"model": "frontdesk", "stream": false, "temperature": 0.3, "max_tokens": 50,
         "messages": [{"role": "system", "content": "You are the receptionist."},
                      {"role": "assistant", "content": null, "tool_calls": [{"id": "c0", "type": "function", "function": {"name": "check_availability", "arguments": "{}"}}]},
                      {"role": "tool", "tool_call_id": "c0", "content": "Tuesday at 10 is free."},
                      {"role": "user", "content": [{"type": "text", "text": "yes please"}]}],
         "tools": [{"type": "function", "function": {"name": "book_appointment", "description": "Books", "parameters": {"type": "object", "properties": {"slotId": {"type": "string"}}}}}],
         "functions": [{"name": "endCall", "description": "Ends the call", "parameters": {"type": "object", "properties": {}}}],
         "tool_choice": "auto", "call": {"id": "@fresh"}, "metadata": {}}
        """)!;
}
