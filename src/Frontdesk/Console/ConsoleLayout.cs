using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Frontdesk.BookingPage;

namespace Frontdesk.StaffConsole;

public static class ConsoleRoutes
{
    public const string Root = "/console";
    public const string Today = "/console";
    public const string SignIn = "/console/sign-in";
    public const string Code = "/console/sign-in/code";
    public const string Password = "/console/password";
    public const string SignOut = "/console/sign-out";
    public const string Account = "/console/account";
    public const string Queue = "/console/queue";
    public const string Patients = "/console/patients";
    public const string Bookings = "/console/bookings";
    public const string Reports = "/console/reports";
    public const string Settings = "/console/settings";
    public const string Staff = "/console/staff";
    public const string Audit = "/console/audit";
}

/// <summary>
/// The console's page frame: landmarks (header, nav, main), a skip link, the staff member and a
/// sign-out form on every page, one stylesheet allowed by its hash, no script. Built for a 360 px
/// phone first: wide tables scroll inside their own box, never the page.
/// </summary>
public static class ConsoleLayout
{
    const string Style = """
        *{box-sizing:border-box}
        html{-webkit-text-size-adjust:100%}
        body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1b1b1b;background:#f5f6f8}
        a{color:#0b57d0}
        a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible,summary:focus-visible{outline:3px solid #b45309;outline-offset:2px}
        .skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem 1rem;z-index:2}
        .skip:focus{left:.5rem}
        header.top{background:#14213d;color:#fff;padding:.5rem 1rem}
        header.top a{color:#fff}
        .bar{display:flex;flex-wrap:wrap;align-items:center;gap:.25rem 1rem;max-width:76rem;margin:0 auto}
        .brand{font-weight:700;margin-right:auto}
        .brand span{font-weight:400;color:#dbe4ff}
        .who{display:flex;flex-wrap:wrap;align-items:center;gap:.25rem .75rem;color:#e5e7eb;font-size:.9375rem}
        .who form{margin:0}
        nav.main{background:#fff;border-bottom:1px solid #d1d5db}
        nav.main ul{display:flex;flex-wrap:wrap;gap:.125rem;max-width:76rem;margin:0 auto;padding:.25rem .5rem;list-style:none}
        nav.main a{display:block;padding:.5rem .75rem;border-radius:.375rem;text-decoration:none;color:#1f2937;font-weight:600}
        nav.main a[aria-current=page]{background:#e8f0fe;color:#0b3d91}
        main{max-width:76rem;margin:0 auto;padding:1rem 1rem 3rem;overflow-wrap:anywhere}
        main.narrow{max-width:28rem}
        h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 1rem}
        h2{font-size:1.1875rem;margin:1.5rem 0 .5rem}
        h3{font-size:1rem;margin:1rem 0 .25rem}
        p{margin:.5rem 0}
        .muted{color:#4b5563}
        .grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:1rem}
        .card{background:#fff;border:1px solid #d1d5db;border-radius:.5rem;padding:1rem;min-width:0}
        .card>h2:first-child,.card>h3:first-child{margin-top:0}
        .scroll{overflow-x:auto;background:#fff;border:1px solid #d1d5db;border-radius:.5rem}
        table{border-collapse:collapse;width:100%;font-size:.9375rem;overflow-wrap:normal}
        th,td{text-align:left;vertical-align:top;padding:.5rem .625rem;border-bottom:1px solid #e5e7eb}
        th{background:#f9fafb;font-weight:700;white-space:nowrap}
        tr:last-child td{border-bottom:0}
        caption{text-align:left;font-weight:700;padding:.5rem .625rem}
        ul.items{list-style:none;margin:0;padding:0;display:grid;gap:.75rem}
        ul.items>li{background:#fff;border:1px solid #d1d5db;border-radius:.5rem;padding:.75rem 1rem}
        .tag{display:inline-block;padding:0 .5rem;border-radius:999px;font-size:.8125rem;font-weight:700;background:#e5e7eb;color:#1f2937}
        .tag.ok{background:#dcfce7;color:#14532d}
        .tag.warn{background:#fef3c7;color:#78350f}
        .tag.bad{background:#fee2e2;color:#7f1d1d}
        .tag.info{background:#dbeafe;color:#1e3a8a}
        form.stack{display:grid;gap:.75rem;max-width:32rem}
        form.inline{display:inline}
        .actions{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.5rem}
        label{font-weight:600;display:block}
        .hint{font-weight:400;color:#4b5563;font-size:.875rem;display:block}
        input[type=text],input[type=email],input[type=password],input[type=search],input[type=date],input[type=time],input:not([type]),select,textarea{display:block;width:100%;min-height:2.75rem;margin-top:.25rem;padding:.5rem .625rem;font:inherit;color:#1b1b1b;background:#fff;border:2px solid #6b7280;border-radius:.375rem}
        textarea{min-height:8rem}
        textarea[rows="3"]{min-height:5rem}
        input[type=checkbox]{width:1.25rem;height:1.25rem;accent-color:#0b57d0;vertical-align:middle;margin-right:.375rem}
        button{white-space:nowrap;min-height:2.75rem;padding:.5rem 1rem;font:inherit;font-weight:700;color:#fff;background:#0b57d0;border:0;border-radius:.375rem;cursor:pointer}
        button.secondary{background:#fff;color:#0b3d91;border:2px solid #0b57d0}
        button.danger{background:#b91c1c}
        button.link{min-height:0;padding:0;background:none;color:inherit;text-decoration:underline;font-weight:400}
        .note{border-left:4px solid #b91c1c;background:#fef2f2;padding:.75rem 1rem;margin:1rem 0}
        .note.ok{border-left-color:#15803d;background:#f0fdf4}
        .note.info{border-left-color:#1d4ed8;background:#eff6ff}
        .secret{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1.125rem;letter-spacing:.05em;background:#fff;border:1px dashed #6b7280;padding:.5rem .75rem;border-radius:.375rem;display:inline-block}
        code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.875rem}
        dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.5rem 0}
        dl.facts dt{font-weight:700}
        dl.facts dd{margin:0}
        .filters{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end;margin:0 0 1rem}
        .filters>div{min-width:9rem;flex:1 1 9rem}
        .chart{width:100%;height:auto;max-width:40rem;display:block}
        .slot-free{color:#14532d}
        .slot-held{color:#78350f}
        .slot-booked{color:#1e3a8a}
        .slot-busy{color:#374151}
        details>summary{cursor:pointer;font-weight:600;min-height:2rem}
        pre.transcript{white-space:pre-wrap;font:inherit;background:#f9fafb;border:1px solid #e5e7eb;padding:.75rem;border-radius:.375rem;max-height:24rem;overflow:auto}
        """;

    public static readonly string StyleHash = "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(Style)));

    /// <summary>No script at all; styles only by hash; forms only to this origin.</summary>
    public static readonly string ContentSecurityPolicy =
        $"default-src 'none'; style-src '{StyleHash}'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    public static readonly CultureInfo En = CultureInfo.GetCultureInfo("en-GB");

    static readonly (string Key, string Label, string Href, bool AdminOnly)[] Nav =
    [
        ("today", "Today", ConsoleRoutes.Today, false),
        ("queue", "Work queue", ConsoleRoutes.Queue, false),
        ("patients", "Patients", ConsoleRoutes.Patients, false),
        ("bookings", "Bookings", ConsoleRoutes.Bookings, false),
        ("reports", "Reports", ConsoleRoutes.Reports, false),
        ("settings", "Settings", ConsoleRoutes.Settings, true),
        ("staff", "Staff", ConsoleRoutes.Staff, true),
        ("audit", "Audit", ConsoleRoutes.Audit, false),
    ];

    static Html Document(string title, Html header, Html body, bool narrow) => Html.Of($"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <meta name="robots" content="noindex">
        <title>{title} · Frontdesk</title>
        <style>{Html.Constant(Style)}</style>
        </head>
        <body>
        <a class="skip" href="#main">Skip to content</a>
        {header}
        <main id="main"{(narrow ? Html.Constant(" class=\"narrow\"") : Html.Empty)}>
        {body}
        </main>
        </body>
        </html>
        """);

    /// <summary>A page of the signed-in console: header with clinic and staff member, navigation, sign-out.</summary>
    public static ContentHttpResult Page(HttpContext http, string title, string active, Html body, int status = 200)
    {
        var user = ConsoleUser.Of(http);
        var csrf = http.RequestServices.GetRequiredService<ConsoleForms>().Issue(http);
        var nav = Nav.Where(n => !n.AdminOnly || user.IsAdmin).Select(n => n.Key == active
            ? Html.Of($"""<li><a href="{n.Href}" aria-current="page">{n.Label}</a></li>""")
            : Html.Of($"""<li><a href="{n.Href}">{n.Label}</a></li>"""));
        var header = Html.Of($"""
            <header class="top">
            <div class="bar">
            <div class="brand">Frontdesk <span>· {user.ClinicName}</span></div>
            <div class="who"><span>{user.DisplayName} ({user.Role})</span>
            <a href="{ConsoleRoutes.Account}">Account</a>
            <form method="post" action="{ConsoleRoutes.SignOut}"><input type="hidden" name="{FormCsrf.Field}" value="{csrf}"><button type="submit" class="link">Sign out</button></form>
            </div>
            </div>
            </header>
            <nav class="main" aria-label="Console"><ul>{nav}</ul></nav>
            """);
        return Result(status, Document(title, header, Html.Of($"{Flash(http)}{body}"), narrow: false));
    }

    /// <summary>A page outside the signed-in frame (sign-in, errors before a session).</summary>
    public static ContentHttpResult Bare(int status, string title, Html body) =>
        Result(status, Document(title, Html.Of($"""<header class="top"><div class="bar"><div class="brand">Frontdesk <span>· staff console</span></div></div></header>"""), body, narrow: true));

    static ContentHttpResult Result(int status, Html document) =>
        TypedResults.Content(document.ToString(), "text/html; charset=utf-8", Encoding.UTF8, status);

    /// <summary>Post/redirect/get messages: a fixed word in the query (never data), shown as a status note.</summary>
    static readonly Dictionary<string, string> Messages = new(StringComparer.Ordinal)
    {
        ["saved"] = "Saved.",
        ["deleted"] = "Deleted.",
        ["cancelled"] = "The booking is cancelled and its slot is free again.",
        ["moved"] = "The booking is moved.",
        ["erased"] = "The patient's personal data is erased.",
        ["done"] = "Done.",
        ["totp-on"] = "Two-step sign-in is on.",
        ["totp-off"] = "Two-step sign-in is off.",
        ["password"] = "Your password is changed. Other sessions are signed out.",
        ["everywhere"] = "Every other session of your account is signed out.",
        ["retried"] = "Queued to try again now.",
        ["attendance"] = "Attendance recorded.",
    };

    static Html Flash(HttpContext http) =>
        http.Request.Query["done"].ToString() is { Length: > 0 } key && Messages.TryGetValue(key, out var text)
            ? Html.Of($"""<p class="note ok" role="status">{text}</p>""")
            : Html.Empty;

    public static Html Problem(string? text) => text is null ? Html.Empty : Html.Of($"""<p class="note" role="alert">{text}</p>""");

    public static Html CsrfField(HttpContext http) =>
        Html.Of($"""<input type="hidden" name="{FormCsrf.Field}" value="{http.RequestServices.GetRequiredService<ConsoleForms>().Issue(http)}">""");

    public static string Local(DateTimeOffset at, string timezone, string format = "d MMM HH:mm") =>
        ClinicTime.Local(at, ClinicTime.Zone(timezone)).ToString(format, En);

    public static Html Tag(string text, string kind = "") =>
        kind.Length == 0 ? Html.Of($"""<span class="tag">{text}</span>""") : Html.Of($"""<span class="tag {kind}">{text}</span>""");
}
