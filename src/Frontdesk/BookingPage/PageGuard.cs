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
    public const string CsrfField = "csrf";

    readonly byte[] _csrfKey;
    readonly PartitionedRateLimiter<HttpContext> _limiter;

    public PageGuard(DevSecrets secrets, BookingPageOptions options)
    {
        _csrfKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, secrets.JwtSecret(), 32, info: Encoding.UTF8.GetBytes("frontdesk booking-page csrf v1"));
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

    /// <summary>Endpoint filter for the page group: headers first (so error pages carry them too), then the limiter.</summary>
    public async ValueTask<object?> FilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var h = http.Response.Headers;
        h.ContentSecurityPolicy = ContentSecurityPolicy;
        h.XContentTypeOptions = "nosniff";
        h.XFrameOptions = "DENY";
        h["Referrer-Policy"] = "no-referrer";   // the token is in the URL: never send it to another site
        h.CacheControl = "no-store";             // pages show a patient's booking
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";

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
    /// setting the browser's random nonce cookie when it has none. Double submit: a cross-site page
    /// can neither read the cookie nor compute the field without our key.</summary>
    public string Issue(HttpContext http, string bound)
    {
        var nonce = http.Request.Cookies[CsrfCookie];
        if (nonce is not { Length: 43 } || !Base64Url.IsValid(nonce))
        {
            nonce = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
            http.Response.Cookies.Append(CsrfCookie, nonce, new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = http.Request.IsHttps, Path = CookiePath(http), IsEssential = true,
            });
        }
        return Mac(nonce, bound);
    }

    /// <summary>The posted form, or an empty one when the body is not a form or cannot be read as one (a NUL
    /// or a broken encoding in a value): the CSRF check then fails and the page answers 400, never 500.</summary>
    public static async Task<IFormCollection> FormAsync(HttpContext http, CancellationToken ct)
    {
        if (!http.Request.HasFormContentType) return FormCollection.Empty;
        try
        {
            return await http.Request.ReadFormAsync(ct);
        }
        catch (InvalidDataException)
        {
            return FormCollection.Empty;
        }
    }

    /// <summary>The page family the form belongs to (/book, /manage, /waitlist): the nonce cookie goes only there.</summary>
    static string CookiePath(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "/";
        var next = path.IndexOf('/', 1);
        return next > 0 ? path[..next] : "/book";
    }

    public bool Valid(HttpContext http, IFormCollection form, string bound)
    {
        var nonce = http.Request.Cookies[CsrfCookie];
        var field = form[CsrfField].ToString();
        if (nonce is not { Length: 43 } || field.Length == 0 || field.Length > 100) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Mac(nonce, bound)), Encoding.ASCII.GetBytes(field));
    }

    string Mac(string nonce, string bound) =>
        Base64Url.EncodeToString(HMACSHA256.HashData(_csrfKey, Encoding.UTF8.GetBytes(nonce + "\n" + bound)));

    public void Dispose() => _limiter.Dispose();
}
