using System.Collections.Concurrent;
using System.Diagnostics;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Tests.Privacy;

/// <summary>Link tokens are bearer credentials: request lines and spans name the route, never the token
/// or a query string (issue 13).</summary>
public class RequestRedactionTests
{
    [Theory]
    [InlineData("/book/AQIDBAUGBwgJ.c2lnbmF0dXJl", "/book/{token}")]
    [InlineData("/book/cancel/AQIDBAUGBwgJ.c2lnbmF0dXJl", "/book/cancel/{token}")]
    [InlineData("/manage/AQIDBAUGBwgJ.c2lnbmF0dXJl/reschedule", "/manage/{token}/reschedule")]
    [InlineData("/BOOK/anything", "/book/{token}")]
    [InlineData("/future/AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY.c2lnbmF0dXJlLXNpZ25hdHVyZQ", "/future/{token}")]
    [InlineData("/api/clinics/6f1c1a8e-6bd4-4f55-9d55-3b8b2f1c9a10/audit", "/api/clinics/6f1c1a8e-6bd4-4f55-9d55-3b8b2f1c9a10/audit")]
    [InlineData("/book/", "/book/")]
    [InlineData("/healthz", "/healthz")]
    public void Paths_lose_every_token_segment(string path, string expected) =>
        Assert.Equal(expected, RequestLog.Redact(new PathString(path)));

    [Fact]
    public async Task Spans_of_a_booking_link_request_carry_the_route_not_the_token_or_the_query()
    {
        const string token = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA.bm90LWEtcmVhbC1zaWduYXR1cmUtYXQtYWxs";
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        using var client = TestApp.Client(null);
        var r = await client.GetAsync($"/book/{token}?ref=secret-campaign-value");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, r.StatusCode);   // not one of ours: refused, naming nothing

        var ours = stopped.Where(a => a.GetTagItem("http.route") as string == "/book/{token}").ToList();
        Assert.NotEmpty(ours);
        Assert.All(ours, a => Assert.Equal("/book/{token}", a.GetTagItem("url.path")));
        foreach (var a in stopped)
        {
            var text = a.DisplayName + " " + string.Join(" ", a.TagObjects.Select(t => $"{t.Key}={t.Value}"));
            Assert.DoesNotContain(token[..20], text, StringComparison.Ordinal);
            Assert.DoesNotContain("secret-campaign-value", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Request_lines_name_the_route_or_the_redacted_path_never_the_token_or_the_query()
    {
        var capture = new LogCapture();
        await using var factory = TestApp.Factory.WithWebHostBuilder(b => b.ConfigureServices(s => s.AddLogging(l => l.AddProvider(capture))));
        using var client = factory.CreateClient();
        const string token = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA.c2lnbmF0dXJlLW9mLWEtbWFuYWdlLWxpbms";
        await client.GetAsync($"/book/{token}?email=someone%40example.com");
        await client.GetAsync($"/manage/{token}?x=1");   // no such route yet: the path itself is redacted

        var lines = capture.Since(0).Where(l => l.Category == "Frontdesk.Requests").Select(l => l.Text).ToList();
        Assert.Contains(lines, l => l.StartsWith("GET /book/{token} → 404 in ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("GET /manage/{token} → 404 in ", StringComparison.Ordinal));
        var all = string.Join("\n", capture.Since(0).Select(l => l.Text));
        Assert.DoesNotContain(token[..16], all, StringComparison.Ordinal);
        Assert.DoesNotContain("someone", all, StringComparison.Ordinal);
    }
}
