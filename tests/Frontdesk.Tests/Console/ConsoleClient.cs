using System.Net;
using System.Text;
using System.Text.Json;
using AngleSharp;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using Frontdesk.Platform;
using Frontdesk.StaffConsole;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Frontdesk.Tests.StaffConsole;

/// <summary>A staff member's browser against the in-process server: keeps cookies, does not follow
/// redirects, parses pages with AngleSharp and posts forms with the CSRF field the pages carry.</summary>
public sealed class ConsoleClient : IDisposable
{
    public const string Password = "correct horse battery staple";
    static readonly HtmlParser Parser = new();

    public HttpClient Http { get; }
    string? _csrf;

    public ConsoleClient(WebApplicationFactory<Program>? app = null) =>
        Http = (app ?? TestApp.Factory).CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    public sealed record Page(HttpResponseMessage Response, IDocument Document, string Html)
    {
        public HttpStatusCode Status => Response.StatusCode;
        public string? Location => Response.Headers.Location?.OriginalString;
        public string H1 => Document.QuerySelector("h1")?.TextContent.Trim() ?? "";
        public string Text => Document.Body?.TextContent ?? "";
    }

    async Task<Page> ReadAsync(HttpResponseMessage r)
    {
        var html = await r.Content.ReadAsStringAsync();
        var doc = Parser.ParseDocument(html);
        if (doc.QuerySelector("input[name=csrf]")?.GetAttribute("value") is { Length: > 0 } csrf) _csrf = csrf;
        return new Page(r, doc, html);
    }

    public async Task<Page> GetAsync(string url) => await ReadAsync(await Http.GetAsync(url));

    /// <summary>Posts a form as the browser would, with the CSRF field of the last page seen (a page
    /// is fetched first when none was).</summary>
    public async Task<Page> PostAsync(string url, params (string Name, string Value)[] fields)
    {
        if (_csrf is null) await GetAsync(ConsoleRoutes.SignIn);
        var all = fields.Append(("csrf", _csrf!)).Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2));
        return await ReadAsync(await Http.PostAsync(url, new FormUrlEncodedContent(all)));
    }

    public async Task<Page> PostRawAsync(string url, HttpContent content) => await ReadAsync(await Http.PostAsync(url, content));

    public async Task<Page> SignInAsync(string email, string password = Password)
    {
        await GetAsync(ConsoleRoutes.SignIn);
        return await PostAsync(ConsoleRoutes.SignIn, ("email", email), ("password", password));
    }

    public void Dispose() => Http.Dispose();

    // --- accounts ---------------------------------------------------------------------------------

    public sealed record Staff(Guid Id, Guid ClinicId, string Email, string Role);

    /// <summary>A staff account with <see cref="Password"/>, already past its first sign-in.</summary>
    public static async Task<Staff> StaffAsync(Guid clinicId, string role = "admin", bool mustChange = false, string? password = Password)
    {
        var services = TestApp.Factory.Services;
        var accounts = services.GetRequiredService<StaffAccounts>();
        var email = $"{role}-{Guid.NewGuid():N}@clinic.test";
        var created = await TestApp.Db.InTransactionAsync(RequestClaims.ForClinic(clinicId, "test", "admin"),
            s => accounts.CreateAsync(s, clinicId, email, "Test " + role, role, password, "test", CancellationToken.None), CancellationToken.None);
        if (!mustChange) await TestApp.ExecAsync("update staff_accounts set must_change_password = false where id = $1", created.Id);
        return new Staff(created.Id, clinicId, email, role);
    }

    /// <summary>Signed in to the console of <paramref name="clinicId"/> with a new account of <paramref name="role"/>.</summary>
    public static async Task<(ConsoleClient Client, Staff Staff)> SignedInAsync(Guid clinicId, string role = "admin", WebApplicationFactory<Program>? app = null)
    {
        var staff = await StaffAsync(clinicId, role);
        var client = new ConsoleClient(app);
        var r = await client.SignInAsync(staff.Email);
        Assert.True(r.Status == HttpStatusCode.Redirect && r.Location == ConsoleRoutes.Today, $"sign-in answered {(int)r.Status} {r.Location}: {r.Text}");
        return (client, staff);
    }

    /// <summary>An end-of-call report shaped as Vapi sends it (outcomes at the top, a start-of-call snapshot nested).</summary>
    /// <summary><paramref name="ago"/> before now, but not before the clinic's midnight: a call the test makes
    /// "a few minutes ago" must still be on today's pages when the test runs just after midnight.</summary>
    public static DateTimeOffset EarlierToday(TimeSpan ago, string timezone = "Europe/London")
    {
        var now = DateTimeOffset.UtcNow;
        var (_, midnight, _) = TodayPage.Day(null, timezone, TimeProvider.System);   // the pages' own "today"
        return now - ago < midnight ? midnight : now - ago;
    }

    public static string EndOfCallReport(string callId, string phone, DateTimeOffset endedAt, string transcript, string? summary = null,
        string endedReason = "customer-ended-call") => JsonSerializer.Serialize(new
    {
        message = new
        {
            timestamp = endedAt.ToUnixTimeMilliseconds(),
            type = "end-of-call-report",
            endedReason,
            startedAt = endedAt.AddMinutes(-4).ToString("O"),
            endedAt = endedAt.ToString("O"),
            cost = 0.1234,
            durationSeconds = 240.2,
            analysis = new { summary = summary ?? "The caller asked about rhinoplasty and hung up before booking." },
            artifact = new
            {
                transcript,
                messages = new object[]
                {
                    new { role = "bot", message = "Hello, thank you for calling.", time = endedAt.AddMinutes(-4).ToUnixTimeMilliseconds(), secondsFromStart = 0.5 },
                    new { role = "user", message = transcript, time = endedAt.AddMinutes(-3).ToUnixTimeMilliseconds(), secondsFromStart = 5.1 },
                },
                performanceMetrics = new
                {
                    turnLatencies = new object[]
                    {
                        new { modelLatency = 320, voiceLatency = 150, transcriberLatency = 80, endpointingLatency = 50, turnLatency = 600 },
                        new { modelLatency = 520, voiceLatency = 180, transcriberLatency = 90, endpointingLatency = 60, turnLatency = 850 },
                    },
                },
            },
            call = new { id = callId, orgId = "org_1", type = "inboundPhoneCall", status = "queued", cost = 0 },
            customer = new { number = phone },
            phoneNumber = new { number = "+15005550006" },
        },
    });

    public static async Task<HttpResponseMessage> PostVapiAsync(HttpClient client, string secret, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/vapi/webhook") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Vapi-Secret", secret);
        return await client.SendAsync(request);
    }
}
