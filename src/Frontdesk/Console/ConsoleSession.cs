using System.Globalization;
using System.Net;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Frontdesk.BookingPage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

using Frontdesk.Tenancy;

namespace Frontdesk.StaffConsole;

/// <summary>What a console session cookie says. <see cref="Stage"/>: <c>code</c> (password verified, TOTP
/// code still due), <c>password</c> (signed in with a one-time password that must be replaced) or <c>full</c>.</summary>
public sealed record SessionCookie(Guid ClinicId, Guid StaffId, int Generation, string Stage, DateTimeOffset IssuedAt, DateTimeOffset SeenAt);

public static class SessionStages
{
    public const string Code = "code", Password = "password", Full = "full";
}

/// <summary>The signed-in staff member, as the console's pages see them.</summary>
public sealed record ConsoleUser(Guid StaffId, Guid ClinicId, string DisplayName, string Email, string Role, string ClinicName,
    string ClinicTimezone, bool Totp, string Stage)
{
    public bool IsAdmin => Claims.Has(AppRoles.Admin);

    public RequestClaims Claims => StaffAccounts.ClaimsFor(ClinicId, StaffId, Role);

    public static ConsoleUser Of(HttpContext http) =>
        http.Items[typeof(ConsoleUser)] as ConsoleUser ?? throw new InvalidOperationException("Console page reached without a signed-in staff member.");
}

/// <summary>
/// Console sessions as signed cookies (HMAC under a key derived from the JWT secret, like the booking
/// page's links): no session table, no data-protection key ring to share between instances. Each
/// request checks the cookie's account generation against the database, so sign-out-everywhere,
/// password changes and disabling take effect at once; idle and absolute limits are in the cookie.
/// </summary>
public sealed class ConsoleSessions(DevSecrets secrets, ConsoleOptions options, TimeProvider clock)
{
    public const string CookieName = "fd_console";
    public const string CookiePath = "/console";
    /// <summary>Between the password and the code: long enough to open an authenticator app.</summary>
    static readonly TimeSpan CodeStageLifetime = TimeSpan.FromMinutes(10);
    /// <summary>The cookie is re-issued (sliding the idle limit) at most this often.</summary>
    static readonly TimeSpan SlideEvery = TimeSpan.FromMinutes(1);

    readonly SignedToken _token = new(secrets.JwtSecret(), "frontdesk console session v1");

    public TimeSpan Idle => TimeSpan.FromMinutes(options.IdleMinutes);
    public TimeSpan Absolute => TimeSpan.FromHours(options.AbsoluteHours);

    public SessionCookie? Read(HttpContext http)
    {
        if (_token.Open(http.Request.Cookies[CookieName], 400) is not { } payload) return null;
        var parts = Encoding.UTF8.GetString(payload).Split('|');
        if (parts is not [var c, var s, var g, var stage, var issued, var seen]
            || !Guid.TryParseExact(c, "N", out var clinic) || !Guid.TryParseExact(s, "N", out var staff)
            || !int.TryParse(g, NumberStyles.None, CultureInfo.InvariantCulture, out var generation)
            || !long.TryParse(issued, NumberStyles.None, CultureInfo.InvariantCulture, out var i)
            || !long.TryParse(seen, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            || stage is not (SessionStages.Code or SessionStages.Password or SessionStages.Full))
            return null;
        var cookie = new SessionCookie(clinic, staff, generation, stage, DateTimeOffset.FromUnixTimeSeconds(i), DateTimeOffset.FromUnixTimeSeconds(n));
        var now = clock.GetUtcNow();
        var absolute = stage == SessionStages.Code ? CodeStageLifetime : Absolute;
        return now - cookie.IssuedAt > absolute || now - cookie.SeenAt > Idle || cookie.IssuedAt > now + TimeSpan.FromMinutes(5) ? null : cookie;
    }

    public SessionCookie Start(Guid clinicId, Guid staffId, int generation, string stage)
    {
        var now = clock.GetUtcNow();
        return new SessionCookie(clinicId, staffId, generation, stage, now, now);
    }

    public string Seal(SessionCookie c) => _token.Seal(Encoding.UTF8.GetBytes(string.Join('|',
        c.ClinicId.ToString("N"), c.StaffId.ToString("N"), c.Generation.ToString(CultureInfo.InvariantCulture), c.Stage,
        c.IssuedAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), c.SeenAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture))));

    public void Write(HttpContext http, SessionCookie c) =>
        http.Response.Cookies.Append(CookieName, Seal(c), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = SecureCookie(http),
            Path = CookiePath,
            IsEssential = true,
            // A session cookie for the browser; the server's limits are in the signed payload.
        });

    public void Clear(HttpContext http) =>
        http.Response.Cookies.Delete(CookieName, new CookieOptions { Path = CookiePath, Secure = SecureCookie(http), SameSite = SameSiteMode.Strict, HttpOnly = true });

    /// <summary>Slides the idle limit when the cookie is more than a minute old.</summary>
    public void Touch(HttpContext http, SessionCookie c)
    {
        var now = clock.GetUtcNow();
        if (now - c.SeenAt >= SlideEvery) Write(http, c with { SeenAt = now });
    }

    /// <summary>Secure everywhere but plain http on loopback (a developer's machine, in-process tests).
    /// Behind a TLS-terminating proxy the request is http from a non-loopback address: Secure.</summary>
    public static bool SecureCookie(HttpContext http) =>
        http.Request.IsHttps || http.Connection.RemoteIpAddress is { } ip && !IPAddress.IsLoopback(ip);
}

/// <summary>
/// The console's authentication scheme: a valid session cookie whose generation matches the account
/// becomes a principal with the API's claims (role authenticated, org_id, sub staff:&lt;id&gt;, app_role),
/// so everything that reads <c>http.Claims()</c> — the API's handlers and role checks — works unchanged.
/// Only console routes use this scheme; the cookie's path is /console, so it never reaches the API.
/// </summary>
public sealed class ConsoleAuthHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    ConsoleSessions sessions, Db db) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "console";
    public const string StageClaim = "console_stage";

    sealed record SessionRow(string Role, string DisplayName, string Email, int Generation, bool Disabled, bool MustChange, bool Totp,
        string ClinicName, string Timezone);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (sessions.Read(Context) is not { Stage: not SessionStages.Code } cookie) return AuthenticateResult.NoResult();
        var rows = await db.QueryOnceAsync<SessionRow>(StaffAccounts.ClaimsFor(cookie.ClinicId, cookie.StaffId), """
            select s.role, s.display_name, s.email, s.session_generation, s.disabled_at is not null, s.must_change_password,
                   s.totp_secret is not null, c.name, c.timezone
            from staff_accounts s join clinics c on c.id = s.clinic_id
            where s.clinic_id = @C and s.id = @S
            """, new { C = cookie.ClinicId, S = cookie.StaffId }, Context.RequestAborted);
        if (rows is not [var row] || row.Disabled || row.Generation != cookie.Generation)
        {
            sessions.Clear(Context);
            return AuthenticateResult.Fail("The console session has ended.");
        }
        var stage = row.MustChange ? SessionStages.Password : SessionStages.Full;
        sessions.Touch(Context, cookie with { Stage = stage });
        var user = new ConsoleUser(cookie.StaffId, cookie.ClinicId, row.DisplayName, row.Email, row.Role, row.ClinicName, row.Timezone, row.Totp, stage);
        Context.Items[typeof(ConsoleUser)] = user;
        var identity = new ClaimsIdentity(
        [
            new Claim("role", RequestClaims.Authenticated),
            new Claim("sub", user.Claims.Subject!),
            new Claim("org_id", cookie.ClinicId.ToString()),
            new Claim("app_role", row.Role),
            new Claim(StageClaim, stage),
        ], SchemeName, "sub", "role");
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    /// <summary>A page asked for without a session: GET goes to the sign-in page; anything else is a 401
    /// (a form post from an expired session must not be replayed after sign-in).</summary>
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        PageGuard.ApplySecurityHeaders(Response, ConsoleLayout.ContentSecurityPolicy);
        if (HttpMethods.IsGet(Request.Method) || HttpMethods.IsHead(Request.Method))
        {
            Response.StatusCode = 303;
            Response.Headers.Location = ConsoleRoutes.SignIn;
            return;
        }
        await ConsoleLayout.Bare(401, "Please sign in", Html.Of($"""
            <h1>Please sign in</h1>
            <p>Your session has ended, so this form was not accepted. <a href="{ConsoleRoutes.SignIn}">Sign in</a> and try again.</p>
            """)).ExecuteAsync(Context);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        PageGuard.ApplySecurityHeaders(Response, ConsoleLayout.ContentSecurityPolicy);
        if (Context.User.FindFirst(StageClaim)?.Value == SessionStages.Password)
        {
            Response.StatusCode = 303;
            Response.Headers.Location = ConsoleRoutes.Password;
            return;
        }
        await ConsoleLayout.Bare(403, "Not for your role", Html.Of($"""
            <h1>Not for your role</h1>
            <p>This page is for clinic admins. <a href="{ConsoleRoutes.Today}">Back to Today</a></p>
            """)).ExecuteAsync(Context);
    }
}

public static class ConsolePolicies
{
    public const string Staff = "console";
    public const string Admin = "console-admin";
    /// <summary>Also open while a one-time password still has to be replaced.</summary>
    public const string AnyStage = "console-any-stage";

    public static void Add(Microsoft.AspNetCore.Authorization.AuthorizationBuilder b) => b
        .AddPolicy(Staff, p => p.AddAuthenticationSchemes(ConsoleAuthHandler.SchemeName).RequireClaim(ConsoleAuthHandler.StageClaim, SessionStages.Full))
        .AddPolicy(Admin, p => p.AddAuthenticationSchemes(ConsoleAuthHandler.SchemeName).RequireClaim(ConsoleAuthHandler.StageClaim, SessionStages.Full)
            .RequireClaim("app_role", StaffRoles.Admin))
        .AddPolicy(AnyStage, p => p.AddAuthenticationSchemes(ConsoleAuthHandler.SchemeName)
            .RequireClaim(ConsoleAuthHandler.StageClaim, SessionStages.Full, SessionStages.Password));
}
