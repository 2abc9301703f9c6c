using System.Globalization;
using System.Threading.RateLimiting;
using Frontdesk.BookingPage;

namespace Frontdesk.StaffConsole;

/// <summary>
/// Every console form: CSRF by double submit (<see cref="FormCsrf"/>, its own cookie under /console),
/// and bodies read defensively — a body that is not a readable form, or lacks a valid CSRF field, is
/// a 400 page, never a 500 and never an action.
/// </summary>
public sealed class ConsoleForms(DevSecrets secrets, ConsoleOptions options) : IDisposable
{
    public const string CsrfCookie = "fd_console_csrf";
    const string Bound = "frontdesk console forms";

    // Secure by the session cookie's rule: also behind a TLS-terminating proxy.
    readonly FormCsrf _csrf = new(secrets.JwtSecret(), "frontdesk console csrf v1", CsrfCookie, ConsoleSessions.CookiePath, ConsoleSessions.SecureCookie);

    // In memory, per instance, like the booking page's limits: it slows guessing from one address
    // before the per-account lockout (which is in the database) even counts.
    readonly PartitionedRateLimiter<HttpContext> _signIn = PartitionedRateLimiter.Create<HttpContext, string>(http =>
        RateLimitPartition.GetFixedWindowLimiter(http.Connection.RemoteIpAddress?.ToString() ?? "unknown",
            _ => new FixedWindowRateLimiterOptions { PermitLimit = options.SignInPermitsPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));

    public string Issue(HttpContext http) => _csrf.Issue(http, Bound);

    /// <summary>The posted form when it is one and carries a valid CSRF field; otherwise null.</summary>
    public async Task<IFormCollection?> ReadAsync(HttpContext http, CancellationToken ct)
    {
        if (!http.Request.HasFormContentType) return null;
        IFormCollection form;
        try
        {
            form = await http.Request.ReadFormAsync(ct);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException
                                      || e is BadHttpRequestException { StatusCode: not StatusCodes.Status413PayloadTooLarge })
        {
            return null;
        }
        return _csrf.Valid(http, form, Bound) ? form : null;
    }

    /// <summary>The answer to a form that could not be accepted.</summary>
    public static ContentHttpResult Refused(HttpContext http)
    {
        var body = Html.Of($"""
            <h1>Please try again</h1>
            <p class="note" role="alert">For your security this form could not be accepted (it may have been open too long, or sent from elsewhere). Go back, reload the page and try again.</p>
            """);
        return http.Items.ContainsKey(typeof(ConsoleUser)) ? ConsoleLayout.Page(http, "Please try again", "", body, 400) : ConsoleLayout.Bare(400, "Please try again", body);
    }

    /// <summary>Null when the client may try to sign in now; otherwise the 429 page.</summary>
    public async Task<ContentHttpResult?> SignInLimitAsync(HttpContext http)
    {
        using var lease = await _signIn.AcquireAsync(http, 1, http.RequestAborted);
        if (lease.IsAcquired) return null;
        if (lease.TryGetMetadata(MetadataName.RetryAfter, out var retry))
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return ConsoleLayout.Bare(429, "Too many attempts", Html.Of($"""
            <h1>Too many attempts</h1>
            <p>Sign-in was tried too often from this address. Please wait a minute and try again.</p>
            """));
    }

    public void Dispose() => _signIn.Dispose();
}

/// <summary>Form values, trimmed and length-limited: an over-long field reads as absent.</summary>
public static class FormValues
{
    public static string? Text(this IFormCollection form, string name, int max = 200)
    {
        var v = form[name].ToString().Trim();
        // PostgreSQL text cannot hold NUL: a value with one is not text a person typed.
        return v.Length == 0 || v.Length > max || v.Contains('\0', StringComparison.Ordinal) ? null : v;
    }

    public static string Raw(this IFormCollection form, string name) => form[name].ToString();

    public static Guid? Id(this IFormCollection form, string name) => Guid.TryParse(form[name].ToString(), out var g) ? g : null;

    public static bool Checked(this IFormCollection form, string name) => form[name].ToString() is "on" or "true";
}
