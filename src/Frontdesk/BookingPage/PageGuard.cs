using System.Buffers.Text;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;

namespace Frontdesk.BookingPage;

/// <summary>Limits of the public booking page (configuration section <c>BookingPage</c>).</summary>
public sealed class BookingPageOptions
{
    /// <summary>Requests per link token per window (a patient loads, confirms, maybe reloads).</summary>
    [Range(1, 10_000)] public int PermitsPerToken { get; set; } = 30;

    /// <summary>Requests per client address per window (several patients may share a carrier NAT).</summary>
    [Range(1, 100_000)] public int PermitsPerIp { get; set; } = 120;

    [Range(1, 3600)] public int WindowSeconds { get; set; } = 60;

    /// <summary>How far ahead the page offers times, and at most how many.</summary>
    [Range(1, 60)] public int Days { get; set; } = 14;

    [Range(1, 100)] public int MaxSlots { get; set; } = 20;
}

/// <summary>
/// What every booking-page response gets: security headers, rate limits per link token and per
/// client address, and a CSRF token for its forms.
/// </summary>
public sealed class PageGuard : IDisposable
{
    public const string CsrfCookie = "fd_csrf";
    public const string CsrfField = FormCsrf.Field;

    /// <summary>The patient page families that share this guard; each gets its nonce cookie on its own path.</summary>
    static readonly string[] Families = ["/book", "/manage", "/waitlist"];

    readonly Dictionary<string, FormCsrf> _csrf;
    readonly PartitionedRateLimiter<HttpContext> _limiter;

    public PageGuard(DevSecrets secrets, BookingPageOptions options)
    {
        _csrf = Families.ToDictionary(family => family, family => new FormCsrf(secrets.JwtSecret(), "frontdesk booking-page csrf v1", CsrfCookie, family),
            StringComparer.Ordinal);
        var window = TimeSpan.FromSeconds(options.WindowSeconds);
        // In memory, per instance: N instances allow N times the rate. The limit exists to stop
        // enumeration and hammering of one link; a shared limiter would cost a round trip per page.
        _limiter = PartitionedRateLimiter.CreateChained(
            PartitionedRateLimiter.Create<HttpContext, string>(http => RateLimitPartition.GetFixedWindowLimiter(
                "ip:" + (http.Connection.RemoteIpAddress?.ToString() ?? "unknown"),
                _ => new FixedWindowRateLimiterOptions { PermitLimit = options.PermitsPerIp, Window = window, QueueLimit = 0 })),
            PartitionedRateLimiter.Create<HttpContext, string>(http => RateLimitPartition.GetFixedWindowLimiter(
                "token:" + (http.Request.RouteValues["token"] as string ?? ""),
                _ => new FixedWindowRateLimiterOptions { PermitLimit = options.PermitsPerToken, Window = window, QueueLimit = 0 })));
    }

    /// <summary>Content-Security-Policy: nothing but our own hashed stylesheet and same-origin forms; no script at all.</summary>
    public static readonly string ContentSecurityPolicy =
        $"default-src 'none'; style-src '{Pages.StyleHash}'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    /// <summary>What every server-rendered page (booking page, staff console) sends: its CSP, no sniffing,
    /// no framing, no referrer (tokens and ids are in URLs), no caching (pages show personal data).</summary>
    public static void ApplySecurityHeaders(HttpResponse response, string contentSecurityPolicy)
    {
        var h = response.Headers;
        h.ContentSecurityPolicy = contentSecurityPolicy;
        h.XContentTypeOptions = "nosniff";
        h.XFrameOptions = "DENY";
        h["Referrer-Policy"] = "no-referrer";
        h.CacheControl = "no-store";
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
    }

    /// <summary>Endpoint filter for the page group: headers first (so error pages carry them too), then the limiter.</summary>
    public async ValueTask<object?> FilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var h = http.Response.Headers;
        ApplySecurityHeaders(http.Response, ContentSecurityPolicy);

        using var lease = await _limiter.AcquireAsync(http, 1, http.RequestAborted);
        if (!lease.IsAcquired)
        {
            if (lease.TryGetMetadata(MetadataName.RetryAfter, out var retry))
                h.RetryAfter = ((int)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return Pages.Error(StatusCodes.Status429TooManyRequests, "Too many requests",
                "This page was asked for too often in a short time. Please wait a minute and try again.", null);
        }
        return await next(context);
    }

    /// <summary>The form field value for <paramref name="bound"/> (the link token the form posts to),
    /// setting the browser's random nonce cookie when it has none (double submit, <see cref="FormCsrf"/>).</summary>
    public string Issue(HttpContext http, string bound) => CsrfFor(http).Issue(http, bound);

    public bool Valid(HttpContext http, IFormCollection form, string bound) => CsrfFor(http).Valid(http, form, bound);

    /// <summary>The posted form, or an empty one when the body is not a form or cannot be read as one
    /// (<see cref="InputGuard.ReadFormAsync"/>: control characters, too many fields): the CSRF check then
    /// fails and the page answers its 400 page, never a 500.</summary>
    public static async Task<IFormCollection> FormAsync(HttpContext http, CancellationToken ct) =>
        http.Request.HasFormContentType ? (await InputGuard.ReadFormAsync(http.Request, ct)).Form ?? FormCollection.Empty : FormCollection.Empty;

    /// <summary>The page family the form belongs to (/book, /manage, /waitlist): its nonce cookie goes only there.</summary>
    FormCsrf CsrfFor(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "/";
        var next = path.IndexOf('/', 1);
        return next > 0 && _csrf.TryGetValue(path[..next], out var csrf) ? csrf : _csrf[Families[0]];
    }

    public void Dispose() => _limiter.Dispose();
}
