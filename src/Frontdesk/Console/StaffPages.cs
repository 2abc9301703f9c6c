using Frontdesk.Audit;
using Frontdesk.BookingPage;
using Npgsql;

namespace Frontdesk.StaffConsole;

/// <summary>Admins invite colleagues (a one-time password shown once, to hand over in person) and
/// disable accounts (every session ends at once).</summary>
public static class StaffPages
{
    public static void Map(RouteGroupBuilder console)
    {
        var staff = console.MapGroup("/staff").RequireAuthorization(ConsolePolicies.Admin);
        staff.MapGet("", Show);
        staff.MapPost("", Invite);
        staff.MapPost("/{staffId:guid}/disable", Disable);
    }

    static Task<ContentHttpResult> Show(HttpContext http, Db db, CancellationToken ct) => Render(http, db, 200, null, null, ct);

    static async Task<ContentHttpResult> Render(HttpContext http, Db db, int status, string? problem, Html? created, CancellationToken ct)
    {
        var user = ConsoleUser.Of(http);
        IReadOnlyList<StaffListItem> list;
        await using (var s = await db.BeginAsync(user.Claims, ct))
            list = await StaffAccounts.ListAsync(s, user.ClinicId, ct);
        var csrf = ConsoleLayout.CsrfField(http);
        var rows = list.Select(a => Html.Of($"""
            <tr><td>{a.DisplayName}</td><td>{a.Email}</td><td>{a.Role}</td>
            <td>{(a.DisabledAt is not null ? ConsoleLayout.Tag("Disabled", "bad") : a.LockedUntil > DateTimeOffset.UtcNow ? ConsoleLayout.Tag("Locked", "warn") : a.MustChangePassword ? ConsoleLayout.Tag("Invited", "info") : ConsoleLayout.Tag("Active", "ok"))}
            {(a.Totp ? ConsoleLayout.Tag("Two-step", "ok") : Html.Empty)}</td>
            <td>{(a.LastSignInAt is { } at ? ConsoleLayout.Local(at, user.ClinicTimezone) : "never")}</td>
            <td>{(a.DisabledAt is null && a.Id != user.StaffId ? Html.Of($"""<form method="post" action="{ConsoleRoutes.Staff}/{a.Id}/disable">{csrf}<button type="submit" class="danger">Disable {a.DisplayName}</button></form>""") : Html.Empty)}</td></tr>
            """));
        return ConsoleLayout.Page(http, "Staff", "staff", Html.Of($"""
            <h1>Staff</h1>
            {ConsoleLayout.Problem(problem)}
            {created ?? Html.Empty}
            <div class="scroll"><table><thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col">State</th><th scope="col">Last sign-in</th><th scope="col">Actions</th></tr></thead>
            <tbody>{rows}</tbody></table></div>
            <section class="card" aria-labelledby="invite-h"><h2 id="invite-h">Invite a colleague</h2>
            <form method="post" action="{ConsoleRoutes.Staff}" class="stack">{csrf}
            <div><label for="name">Name</label><input id="name" name="name" type="text" required maxlength="200"></div>
            <div><label for="email">Email</label><input id="email" name="email" type="email" required maxlength="254" autocomplete="off"></div>
            <div><label for="role">Role <span class="hint">Doctors read clinical notes; admins change settings and erase patients.</span></label>
            <select id="role" name="role">{StaffRoles.All.Select(r => Html.Of($"<option value=\"{r}\"{(r == StaffRoles.Receptionist ? Html.Constant(" selected") : Html.Empty)}>{r}</option>"))}</select></div>
            <div><button type="submit">Create account</button></div>
            </form>
            </section>
            """), status);
    }

    static async Task<ContentHttpResult> Invite(HttpContext http, ConsoleForms forms, Db db, StaffAccounts staff, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        var email = StaffAccounts.NormalizeEmail(form.Text("email", 254));
        var name = form.Text("name", 200);
        var role = form.Text("role", 20);
        if (email is null || name is null || !StaffRoles.IsKnown(role))
            return await Render(http, db, 400, "Give a name, a valid email address and a role.", null, ct);
        CreatedStaff created;
        try
        {
            created = await db.InTransactionAsync(user.Claims, s => staff.CreateAsync(s, user.ClinicId, email, name, role!, null, user.Claims.Subject!, ct), ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return await Render(http, db, 409, "That email address already has an account in this clinic.", null, ct);
        }
        return await Render(http, db, 201, null, Html.Of($"""
            <div class="note ok" role="status"><p>Account created for {name} ({role}). Their one-time password, shown only now:</p>
            <p><span class="secret">{created.OneTimePassword}</span></p>
            <p>Hand it over in person or by phone, not by email. They choose their own password at first sign-in at <code>/console/sign-in</code>.</p></div>
            """), ct);
    }

    static async Task<IResult> Disable(Guid staffId, HttpContext http, ConsoleForms forms, Db db, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is null) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        if (staffId == user.StaffId) return await Render(http, db, 400, "You cannot disable your own account.", null, ct);
        var n = await db.InTransactionAsync(user.Claims, async s =>
        {
            // A new generation ends every session of the account now, not at its next idle timeout.
            var updated = await s.ExecuteAsync("""
                update staff_accounts set disabled_at = now(), session_generation = session_generation + 1, updated_at = now()
                where clinic_id = @C and id = @Id and disabled_at is null
                """, new { C = user.ClinicId, Id = staffId }, ct);
            if (updated == 1) await AuditLog.WriteAsync(s, user.ClinicId, "staff_disabled", "staff", staffId.ToString(), null, ct);
            return updated;
        }, ct);
        return n == 1 ? TypedResults.Redirect(ConsoleRoutes.Staff + "?done=done") : await Render(http, db, 404, "No such active account in your clinic.", null, ct);
    }
}
