using System.Collections.Concurrent;
using System.Diagnostics;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

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
}
