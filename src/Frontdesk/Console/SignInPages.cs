using System.Globalization;
using Frontdesk.BookingPage;
using Microsoft.AspNetCore.Authentication;

namespace Frontdesk.StaffConsole;

/// <summary>
/// Sign-in: email and password, then a TOTP code when the account has one, then a new password
/// when the account still has a one-time password. Each step is a cookie stage; only <c>full</c>
/// opens the console.
/// </summary>
public static class SignInPages
{
    /// <summary>Six digits, a space allowed (as apps show them: "123 456").</summary>
    public const string CodePattern = "[0-9 ]{6,7}";

    public static void Map(RouteGroupBuilder console)
    {
        console.MapGet("/sign-in", Show).AllowAnonymous();
        console.MapPost("/sign-in", SignIn).AllowAnonymous();
        console.MapGet("/sign-in/code", ShowCode).AllowAnonymous();
        console.MapPost("/sign-in/code", Code).AllowAnonymous();
        console.MapPost("/sign-out", SignOut).AllowAnonymous();
        console.MapGet("/password", ShowPassword).RequireAuthorization(ConsolePolicies.AnyStage);
        console.MapPost("/password", ChangePassword).RequireAuthorization(ConsolePolicies.AnyStage);
    }

    static ContentHttpResult Form(HttpContext http, int status, string? problem, string? email = null) =>
        ConsoleLayout.Bare(status, "Sign in", Html.Of($"""
            <h1>Sign in</h1>
            <p>The staff console of your clinic's Frontdesk.</p>
            {ConsoleLayout.Problem(problem)}
            <form method="post" action="{ConsoleRoutes.SignIn}" class="stack">
            {ConsoleLayout.CsrfField(http)}
            <div><label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required maxlength="254" value="{email ?? ""}"></div>
            <div><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256"></div>
            <div><button type="submit">Sign in</button></div>
            </form>
            """));

    static async Task<IResult> Show(HttpContext http, ConsoleSessions sessions)
    {
        var auth = await http.AuthenticateAsync(ConsoleAuthHandler.SchemeName);
        if (auth.Succeeded) return TypedResults.Redirect(ConsoleRoutes.Today);
        return Form(http, 200, null);
    }

    static async Task<IResult> SignIn(HttpContext http, ConsoleForms forms, StaffAccounts staff, ConsoleSessions sessions, CancellationToken ct)
    {
        if (await forms.SignInLimitAsync(http) is { } limited) return limited;
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var email = form.Text("email", 254);
        switch (await staff.VerifyPasswordAsync(email, form.Raw("password"), ct))
        {
            case SignInResult.Verified { Account: var a }:
                var stage = a.HasTotp ? SessionStages.Code : a.MustChangePassword ? SessionStages.Password : SessionStages.Full;
                sessions.Write(http, sessions.Start(a.ClinicId, a.Id, a.SessionGeneration, stage));
                return TypedResults.Redirect(stage switch
                {
                    SessionStages.Code => ConsoleRoutes.Code,
                    SessionStages.Password => ConsoleRoutes.Password,
                    _ => ConsoleRoutes.Today,
                });
            case SignInResult.Locked { Until: var until }:
                return Locked(http, until);
            default:
                return Form(http, 401, "That email and password do not match an account. Check both and try again.", email);
        }
    }

    static ContentHttpResult Locked(HttpContext http, DateTimeOffset until)
    {
        var minutes = Math.Max(1, (int)Math.Ceiling((until - DateTimeOffset.UtcNow).TotalMinutes));
        http.Response.Headers.RetryAfter = (minutes * 60).ToString(CultureInfo.InvariantCulture);
        return ConsoleLayout.Bare(429, "Account locked", Html.Of($"""
            <h1>Account locked</h1>
            <p class="note" role="alert">Too many wrong attempts. For your security the account is locked for about {minutes} minute{(minutes == 1 ? "" : "s")}; then try again.</p>
            <p>If you did not make these attempts, tell your clinic's admin.</p>
            """));
    }

    static ContentHttpResult CodeForm(HttpContext http, int status, string? problem) =>
        ConsoleLayout.Bare(status, "Enter your code", Html.Of($"""
            <h1>Enter your code</h1>
            <p>Open your authenticator app and enter the 6-digit code for Frontdesk.</p>
            {ConsoleLayout.Problem(problem)}
            <form method="post" action="{ConsoleRoutes.Code}" class="stack">
            {ConsoleLayout.CsrfField(http)}
            <div><label for="code">Code</label><input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="{SignInPages.CodePattern}" maxlength="7" required></div>
            <div><button type="submit">Continue</button></div>
            </form>
            <p><a href="{ConsoleRoutes.SignIn}">Start again</a></p>
            """));

    static IResult ShowCode(HttpContext http, ConsoleSessions sessions) =>
        sessions.Read(http) is { Stage: SessionStages.Code } ? CodeForm(http, 200, null) : TypedResults.Redirect(ConsoleRoutes.SignIn);

    static async Task<IResult> Code(HttpContext http, ConsoleForms forms, StaffAccounts staff, ConsoleSessions sessions, CancellationToken ct)
    {
        if (await forms.SignInLimitAsync(http) is { } limited) return limited;
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        if (sessions.Read(http) is not { Stage: SessionStages.Code } pending) return TypedResults.Redirect(ConsoleRoutes.SignIn);
        switch (await staff.VerifyCodeAsync(pending.ClinicId, pending.StaffId, form.Text("code", 10), ct))
        {
            case SignInResult.Verified { Account: var a } when a.SessionGeneration == pending.Generation:
                var stage = a.MustChangePassword ? SessionStages.Password : SessionStages.Full;
                sessions.Write(http, sessions.Start(a.ClinicId, a.Id, a.SessionGeneration, stage));
                return TypedResults.Redirect(stage == SessionStages.Password ? ConsoleRoutes.Password : ConsoleRoutes.Today);
            case SignInResult.Locked { Until: var until }:
                sessions.Clear(http);
                return Locked(http, until);
            case SignInResult.Verified:
                sessions.Clear(http);
                return TypedResults.Redirect(ConsoleRoutes.SignIn);
            default:
                return CodeForm(http, 401, "That code is not right (or was already used). Wait for the next code and try again.");
        }
    }

    static async Task<IResult> SignOut(HttpContext http, ConsoleForms forms, ConsoleSessions sessions, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is null) return ConsoleForms.Refused(http);
        sessions.Clear(http);
        return TypedResults.Redirect(ConsoleRoutes.SignIn);
    }

    static ContentHttpResult PasswordForm(HttpContext http, int status, string? problem)
    {
        var user = ConsoleUser.Of(http);
        var forced = user.Stage == SessionStages.Password;
        var body = Html.Of($"""
            <h1>{(forced ? "Choose your password" : "Change your password")}</h1>
            {(forced ? Html.Of($"<p>You signed in with a one-time password. Choose your own to continue.</p>") : Html.Empty)}
            {ConsoleLayout.Problem(problem)}
            <form method="post" action="{ConsoleRoutes.Password}" class="stack">
            {ConsoleLayout.CsrfField(http)}
            <input type="text" name="username" autocomplete="username" value="{user.Email}" hidden aria-label="Email">
            {(forced ? Html.Empty : Html.Of($"""<div><label for="current">Current password</label><input id="current" name="current" type="password" autocomplete="current-password" required maxlength="256"></div>"""))}
            <div><label for="new">New password <span class="hint">At least {http.RequestServices.GetRequiredService<ConsoleOptions>().MinPasswordLength} characters; a few unrelated words work well.</span></label><input id="new" name="new" type="password" autocomplete="new-password" required maxlength="256"></div>
            <div><label for="confirm">New password again</label><input id="confirm" name="confirm" type="password" autocomplete="new-password" required maxlength="256"></div>
            <div><button type="submit">Save password</button></div>
            </form>
            """);
        return forced ? ConsoleLayout.Bare(status, "Choose your password", body) : ConsoleLayout.Page(http, "Change your password", "", body, status);
    }

    static ContentHttpResult ShowPassword(HttpContext http) => PasswordForm(http, 200, null);

    static async Task<IResult> ChangePassword(HttpContext http, ConsoleForms forms, StaffAccounts staff, ConsoleSessions sessions, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        var next = form.Raw("new");
        if (next != form.Raw("confirm")) return PasswordForm(http, 400, "The two new passwords are not the same.");
        // The one-time password was verified at this session's sign-in; afterwards the current password is asked for.
        var (ok, problem, generation) = await staff.ChangePasswordAsync(user.ClinicId, user.StaffId, form.Raw("current"), next,
            requireCurrent: user.Stage == SessionStages.Full, ct);
        if (!ok) return PasswordForm(http, 400, problem);
        sessions.Write(http, sessions.Start(user.ClinicId, user.StaffId, generation, SessionStages.Full));
        return TypedResults.Redirect(ConsoleRoutes.Today + "?done=password");
    }
}
