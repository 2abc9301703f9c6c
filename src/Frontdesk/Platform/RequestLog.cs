using System.Diagnostics;
using System.Text;

namespace Frontdesk.Platform;

/// <summary>
/// Request lines without secrets or personal data (issue 13). ASP.NET Core's own request lines
/// ("Request starting … /book/&lt;token&gt;?…") are off by default (appsettings.json puts
/// Microsoft.AspNetCore at Warning) because they carry the raw path and query; this line replaces
/// them: method, the route template (or the path with every token segment redacted), status and
/// duration — never a query string. Traces get the same path (<see cref="Redact"/>).
/// </summary>
public static partial class RequestLog
{
    /// <summary>Paths whose next segment is a bearer token (booking, cancel and manage links).</summary>
    static readonly string[] TokenPrefixes = ["/book/cancel/", "/book/", "/manage/"];

    public const string Placeholder = "{token}";

    public static void UseRequestLog(this WebApplication app)
    {
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Frontdesk.Requests");
        app.Use(async (http, next) =>
        {
            var t0 = Stopwatch.GetTimestamp();
            try
            {
                await next(http);
            }
            finally
            {
                if (log.IsEnabled(LogLevel.Information))
                    Log.Request(log, http.Request.Method, PathOf(http), http.Response.StatusCode,
                        Math.Round(Stopwatch.GetElapsedTime(t0).TotalMilliseconds, 1));
            }
        });
    }

    /// <summary>The matched route's template ("/book/{token}"), else the path with tokens redacted.</summary>
    public static string PathOf(HttpContext http) =>
        http.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } template }
            ? (template.StartsWith('/') ? template : "/" + template)
            : Redact(http.Request.Path);

    /// <summary>The path with every bearer-token segment replaced by {token}: the segment after a
    /// known link prefix, and any segment shaped like one of our signed tokens (base64url "payload.mac").</summary>
    public static string Redact(PathString path)
    {
        var value = path.Value ?? "";
        foreach (var prefix in TokenPrefixes)
        {
            if (value.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && value.Length > prefix.Length)
            {
                var rest = value.AsSpan(prefix.Length);
                var slash = rest.IndexOf('/');
                return prefix + Placeholder + (slash < 0 ? "" : Redact(new PathString(rest[slash..].ToString())));
            }
        }
        var segments = value.Split('/');
        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < segments.Length; i++)
        {
            if (i > 0) sb.Append('/');
            sb.Append(LooksLikeToken(segments[i]) ? Placeholder : segments[i]);
        }
        return sb.ToString();
    }

    static bool LooksLikeToken(string segment) =>
        segment.Length >= 32 && segment.Contains('.') && segment.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '=' or '%');

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "{Method} {Path} → {Status} in {Ms} ms")]
        public static partial void Request(ILogger logger, string method, string path, int status, double ms);
    }
}
