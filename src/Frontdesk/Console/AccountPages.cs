using Frontdesk.BookingPage;

namespace Frontdesk.StaffConsole;

/// <summary>The signed-in staff member's own account: two-step sign-in (TOTP), password, sign-out everywhere.</summary>
public static class AccountPages
{
    const string Totp = ConsoleRoutes.Account + "/totp";

    public static void Map(RouteGroupBuilder console)
    {
        console.MapGet("/account", Show);
        console.MapPost("/account/totp/start", StartTotp);
        console.MapGet("/account/totp", ShowTotp);
        console.MapPost("/account/totp", ConfirmTotp);
        console.MapPost("/account/totp/disable", DisableTotp);
        console.MapPost("/account/sign-out-everywhere", SignOutEverywhere);
    }

    static ContentHttpResult Show(HttpContext http)
    {
        var user = ConsoleUser.Of(http);
        var csrf = ConsoleLayout.CsrfField(http);
        var totp = user.Totp
            ? Html.Of($"""
                <p>{ConsoleLayout.Tag("On", "ok")} A code from your authenticator app is asked for at every sign-in.</p>
                <form method="post" action="{ConsoleRoutes.Account}/totp/disable" class="stack">
                {csrf}
                <div><label for="password">Your password, to turn it off</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256"></div>
                <div><button type="submit" class="danger">Turn off two-step sign-in</button></div>
                </form>
                """)
            : Html.Of($"""
                <p>{ConsoleLayout.Tag("Off", "warn")} Recommended for everyone who reads patient data: a stolen password alone then cannot open the console.</p>
                <form method="post" action="{ConsoleRoutes.Account}/totp/start">{csrf}<button type="submit">Set up two-step sign-in</button></form>
                """);
        return ConsoleLayout.Page(http, "Your account", "", Html.Of($"""
            <h1>Your account</h1>
            <dl class="facts"><dt>Name</dt><dd>{user.DisplayName}</dd><dt>Email</dt><dd>{user.Email}</dd><dt>Role</dt><dd>{user.Role}</dd><dt>Clinic</dt><dd>{user.ClinicName}</dd></dl>
            <section class="card" aria-labelledby="totp-h"><h2 id="totp-h">Two-step sign-in</h2>{totp}</section>
            <section class="card" aria-labelledby="pw-h"><h2 id="pw-h">Password</h2><p><a href="{ConsoleRoutes.Password}">Change your password</a> (other sessions are signed out).</p></section>
            <section class="card" aria-labelledby="out-h"><h2 id="out-h">Sessions</h2>
            <p>Lost a phone or used a shared computer? End every other session of your account.</p>
            <form method="post" action="{ConsoleRoutes.Account}/sign-out-everywhere">{csrf}<button type="submit" class="secondary">Sign out everywhere else</button></form>
            </section>
            """));
    }

    static async Task<IResult> StartTotp(HttpContext http, ConsoleForms forms, StaffAccounts staff, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is null) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        await staff.BeginTotpAsync(user.ClinicId, user.StaffId, ct);
        return TypedResults.Redirect(Totp);
    }

    static async Task<IResult> ShowTotp(HttpContext http, StaffAccounts staff, CancellationToken ct)
    {
        var user = ConsoleUser.Of(http);
        return await staff.PendingTotpAsync(user.ClinicId, user.StaffId, ct) is { } secret
            ? TotpPage(http, user, secret, 200, null)
            : TypedResults.Redirect(ConsoleRoutes.Account);
    }

    static ContentHttpResult TotpPage(HttpContext http, ConsoleUser user, byte[] secret, int status, string? problem)
    {
        var key = StaffConsole.Totp.Base32(secret);
        var uri = StaffConsole.Totp.Uri("Frontdesk " + user.ClinicName, user.Email, secret);
        return ConsoleLayout.Page(http, "Set up two-step sign-in", "", Html.Of($"""
            <h1>Set up two-step sign-in</h1>
            {ConsoleLayout.Problem(problem)}
            <ol>
            <li><p>In your authenticator app (Google Authenticator, Microsoft Authenticator, 1Password, …) add an account and type this key, time-based:</p>
            <p><span class="secret" id="key">{StaffConsole.Totp.Grouped(key)}</span></p>
            <details><summary>Or use the setup link</summary><p>Apps that read an <code>otpauth</code> link take this one:</p><p><a href="{uri}"><code>{uri}</code></a></p></details></li>
            <li><p>Enter the 6-digit code the app shows.</p>
            <form method="post" action="{Totp}" class="stack">
            {ConsoleLayout.CsrfField(http)}
            <div><label for="code">Code</label><input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="{SignInPages.CodePattern}" maxlength="7" required></div>
            <div><button type="submit">Turn on</button></div>
            </form></li>
            </ol>
            """), status);
    }

    static async Task<IResult> ConfirmTotp(HttpContext http, ConsoleForms forms, StaffAccounts staff, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        if (await staff.ConfirmTotpAsync(user.ClinicId, user.StaffId, form.Text("code", 10), ct))
            return TypedResults.Redirect(ConsoleRoutes.Account + "?done=totp-on");
        return await staff.PendingTotpAsync(user.ClinicId, user.StaffId, ct) is { } secret
            ? TotpPage(http, user, secret, 400, "That code is not right. Check the key in your app and enter the current code.")
            : TypedResults.Redirect(ConsoleRoutes.Account);
    }

    static async Task<IResult> DisableTotp(HttpContext http, ConsoleForms forms, StaffAccounts staff, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        if (!await staff.PasswordMatchesAsync(user.ClinicId, user.StaffId, form.Raw("password"), ct))
            return ConsoleLayout.Page(http, "Your account", "", Html.Of($"""
                <h1>Your account</h1>
                {ConsoleLayout.Problem("That password is not right; two-step sign-in stays on.")}
                <p><a href="{ConsoleRoutes.Account}">Back to your account</a></p>
                """), 400);
        await staff.DisableTotpAsync(user.ClinicId, user.StaffId, ct);
        return TypedResults.Redirect(ConsoleRoutes.Account + "?done=totp-off");
    }

    static async Task<IResult> SignOutEverywhere(HttpContext http, ConsoleForms forms, Db db, ConsoleSessions sessions, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is null) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        var generation = await db.InTransactionAsync(user.Claims, s => StaffAccounts.SignOutEverywhereAsync(s, user.ClinicId, user.StaffId, "self", ct), ct);
        // This browser stays signed in under the new generation; every other cookie is now stale.
        sessions.Write(http, sessions.Start(user.ClinicId, user.StaffId, generation, SessionStages.Full));
        return TypedResults.Redirect(ConsoleRoutes.Account + "?done=everywhere");
    }
}
