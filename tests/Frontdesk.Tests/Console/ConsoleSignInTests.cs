using System.Net;
using Frontdesk.StaffConsole;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Frontdesk.Tests.StaffConsole;

/// <summary>Sign-in, sessions and accounts of the staff console, through the real pages.</summary>
public class ConsoleSignInTests
{
    [Fact]
    public async Task The_printed_address_opens_the_console_which_asks_to_sign_in()
    {
        using var client = new ConsoleClient();
        var root = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, root.Status);
        Assert.Equal(ConsoleRoutes.Today, root.Location);

        var console = await client.GetAsync(ConsoleRoutes.Today);
        Assert.Equal(HttpStatusCode.SeeOther, console.Status);
        Assert.Equal(ConsoleRoutes.SignIn, console.Location);

        var signIn = await client.GetAsync(ConsoleRoutes.SignIn);
        Assert.Equal(HttpStatusCode.OK, signIn.Status);
        Assert.Equal("Sign in", signIn.H1);
        Assert.NotNull(signIn.Document.QuerySelector("label[for=email]"));
        Assert.Contains("default-src 'none'", signIn.Response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Empty(signIn.Document.QuerySelectorAll("script"));

        // A form post without a session is a 401 page, not a redirect that would lose the form.
        var post = await client.PostAsync(ConsoleRoutes.Patients, ("q", "Jane"));
        Assert.Equal(HttpStatusCode.Unauthorized, post.Status);
        Assert.Equal("Please sign in", post.H1);
    }

    [Fact]
    public async Task Staff_add_prints_a_one_time_password_that_must_be_replaced_at_first_sign_in()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var email = $"First.Admin-{Guid.NewGuid():N}@Clinic.test";
        var args = StaffCommand.Parse(["add", "--clinic", clinic.Id.ToString(), "--email", email, "--role", "admin", "--name", "Ada Admin"], out var error);
        Assert.Null(error);
        using var output = new StringWriter();
        Assert.Equal(0, await StaffCommand.AddAsync(TestApp.Factory.Services, args!, TextReader.Null, output, CancellationToken.None));
        var otp = System.Text.RegularExpressions.Regex.Match(output.ToString(), @"One-time password \(shown once; it must be changed at first sign-in\): (\S+)").Groups[1].Value;
        Assert.Equal(16, otp.Length);
        Assert.Contains("Sign in at https://frontdesk.test/console/sign-in", output.ToString());
        Assert.Equal("staff_created|admin", await TestApp.ScalarAsync<string>(
            "select action || '|' || (detail ->> 'role') from audit_trail where clinic_id = $1 and actor = 'operator:staff-add'", clinic.Id));

        // The same address again is refused; bad arguments name what is wrong.
        using var again = new StringWriter();
        Assert.Equal(1, await StaffCommand.AddAsync(TestApp.Factory.Services, args!, TextReader.Null, again, CancellationToken.None));
        Assert.Contains("already has an account", again.ToString());
        Assert.Null(StaffCommand.Parse(["add", "--clinic", clinic.Id.ToString(), "--email", "x@y.test", "--role", "owner"], out error));
        Assert.Contains("--role", error);
        Assert.Null(StaffCommand.Parse(["add", "--email", "x@y.test", "--role", "admin"], out error));
        Assert.Contains("--clinic", error);

        using var client = new ConsoleClient();
        var signedIn = await client.SignInAsync(email.ToUpperInvariant(), otp);
        Assert.Equal(ConsoleRoutes.Password, signedIn.Location);
        // Nothing else opens until the password is replaced.
        Assert.Equal(ConsoleRoutes.Password, (await client.GetAsync(ConsoleRoutes.Today)).Location);

        var form = await client.GetAsync(ConsoleRoutes.Password);
        Assert.True("Choose your password" == form.H1, $"{(int)form.Status} {form.Location} {form.Html}");
        var tooShort = await client.PostAsync(ConsoleRoutes.Password, ("new", "short"), ("confirm", "short"));
        Assert.Equal(HttpStatusCode.BadRequest, tooShort.Status);
        Assert.Contains("at least 12 characters", tooShort.Text);
        var changed = await client.PostAsync(ConsoleRoutes.Password, ("new", ConsoleClient.Password), ("confirm", ConsoleClient.Password));
        Assert.Equal(ConsoleRoutes.Today + "?done=password", changed.Location);
        var today = await client.GetAsync(ConsoleRoutes.Today);
        Assert.Equal(HttpStatusCode.OK, today.Status);
        Assert.Contains("Ada Admin (admin)", today.Text);

        // The one-time password is spent.
        using var other = new ConsoleClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await other.SignInAsync(email, otp)).Status);
    }

    [Fact]
    public async Task Repeated_wrong_passwords_lock_the_account_even_against_the_right_one()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var staff = await ConsoleClient.StaffAsync(clinic.Id, "receptionist");
        using var client = new ConsoleClient();
        for (var i = 0; i < 4; i++)
        {
            var wrong = await client.SignInAsync(staff.Email, "not the password " + i);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.Status);
            Assert.Contains("do not match an account", wrong.Text);
        }
        var fifth = await client.SignInAsync(staff.Email, "still not it");
        Assert.Equal(HttpStatusCode.TooManyRequests, fifth.Status);
        Assert.Equal("Account locked", fifth.H1);
        Assert.True(fifth.Response.Headers.RetryAfter is not null);

        var right = await client.SignInAsync(staff.Email);
        Assert.Equal(HttpStatusCode.TooManyRequests, right.Status);
        Assert.False(right.Response.Headers.TryGetValues("Set-Cookie", out var set) && set.Any(c => c.StartsWith(ConsoleSessions.CookieName + "=", StringComparison.Ordinal)));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'console_locked_out' and entity_id = $2", clinic.Id, staff.Id.ToString()));

        // When the lock has run out, the right password works and resets the count.
        await TestApp.ExecAsync("update staff_accounts set locked_until = now() - interval '1 second' where id = $1", staff.Id);
        Assert.Equal(ConsoleRoutes.Today, (await client.SignInAsync(staff.Email)).Location);
        Assert.Equal(0, await TestApp.ScalarAsync<int>("select failed_attempts from staff_accounts where id = $1", staff.Id));
    }

    [Fact]
    public async Task One_address_with_accounts_at_two_clinics_signs_in_where_the_password_belongs_without_counting_against_the_other()
    {
        var a = await TestClinic.CreateAsync(slots: 0, patients: 0, name: "Clinic A " + Guid.NewGuid().ToString("N")[..6]);
        var b = await TestClinic.CreateAsync(slots: 0, patients: 0, name: "Clinic B " + Guid.NewGuid().ToString("N")[..6]);
        var email = $"locum-{Guid.NewGuid():N}@clinic.test";
        var accounts = TestApp.Factory.Services.GetRequiredService<StaffAccounts>();
        foreach (var (clinic, password) in new[] { (a.Id, "password of clinic A"), (b.Id, "password of clinic B") })
        {
            var created = await TestApp.Db.InTransactionAsync(Frontdesk.Platform.RequestClaims.ForClinic(clinic, "test", "admin"),
                s => accounts.CreateAsync(s, clinic, email, "Locum", "doctor", password, "test", CancellationToken.None), CancellationToken.None);
            await TestApp.ExecAsync("update staff_accounts set must_change_password = false where id = $1", created.Id);
        }
        for (var i = 0; i < 6; i++)
        {
            using var client = new ConsoleClient();
            Assert.Equal(ConsoleRoutes.Today, (await client.SignInAsync(email, "password of clinic B")).Location);
        }
        Assert.Equal(0, await TestApp.ScalarAsync<int>("select failed_attempts from staff_accounts where clinic_id = $1 and email = $2", a.Id, email));
        using var inA = new ConsoleClient();
        await inA.SignInAsync(email, "password of clinic A");
        Assert.Contains("Clinic A", (await inA.GetAsync(ConsoleRoutes.Today)).Text);
        using var wrong = new ConsoleClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.SignInAsync(email, "neither")).Status);
        Assert.Equal(2L, await TestApp.ScalarAsync<long>("select sum(failed_attempts) from staff_accounts where email = $1", email));
    }

    [Fact]
    public async Task An_unknown_address_and_a_wrong_password_get_the_same_answer()
    {
        using var client = new ConsoleClient();
        var unknown = await client.SignInAsync($"nobody-{Guid.NewGuid():N}@clinic.test", "whatever password");
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.Status);
        Assert.Contains("do not match an account", unknown.Text);
        var malformed = await client.SignInAsync("not an address", "x");
        Assert.Equal(HttpStatusCode.Unauthorized, malformed.Status);
    }

    [Fact]
    public async Task Two_step_sign_in_asks_for_a_current_code_and_refuses_a_replayed_one()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (client, staff) = await ConsoleClient.SignedInAsync(clinic.Id, "doctor");
        using var _ = client;
        var today = await client.GetAsync(ConsoleRoutes.Today);
        Assert.Contains("Two-step sign-in is off", today.Text);

        var start = await client.PostAsync(ConsoleRoutes.Account + "/totp/start");
        Assert.Equal(ConsoleRoutes.Account + "/totp", start.Location);
        var enrol = await client.GetAsync(ConsoleRoutes.Account + "/totp");
        var key = enrol.Document.QuerySelector("#key")!.TextContent.Replace(" ", "", StringComparison.Ordinal);
        Assert.Contains("otpauth://totp/", enrol.Document.QuerySelector("details a")!.GetAttribute("href"));
        Assert.Contains("secret=" + key, enrol.Document.QuerySelector("details a")!.GetAttribute("href"));
        var secret = FromBase32(key);
        // The secret is stored wrapped, never as the key the page showed.
        var stored = await TestApp.ScalarAsync<byte[]>("select totp_pending from staff_accounts where id = $1", staff.Id);
        Assert.False(stored!.AsSpan().IndexOf(secret) >= 0);

        var wrong = await client.PostAsync(ConsoleRoutes.Account + "/totp", ("code", "000000"));
        Assert.Equal(HttpStatusCode.BadRequest, wrong.Status);
        var now = Totp.StepAt(DateTimeOffset.UtcNow);
        var on = await client.PostAsync(ConsoleRoutes.Account + "/totp", ("code", Totp.Code(secret, now)));
        Assert.Equal(ConsoleRoutes.Account + "?done=totp-on", on.Location);

        using var second = new ConsoleClient();
        var password = await second.SignInAsync(staff.Email);
        Assert.Equal(ConsoleRoutes.Code, password.Location);
        // The password alone opens nothing.
        Assert.Equal(ConsoleRoutes.SignIn, (await second.GetAsync(ConsoleRoutes.Today)).Location);
        await second.GetAsync(ConsoleRoutes.Code);
        // The code used for enrolment is spent: a replay within its window is refused.
        var replay = await second.PostAsync(ConsoleRoutes.Code, ("code", Totp.Code(secret, now)));
        Assert.Equal(HttpStatusCode.Unauthorized, replay.Status);
        var next = await second.PostAsync(ConsoleRoutes.Code, ("code", Totp.Code(secret, now + 1)));
        Assert.Equal(ConsoleRoutes.Today, next.Location);
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync(ConsoleRoutes.Today)).Status);
        Assert.True(await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'console_signed_in' and detail ->> 'factor' = 'totp'", clinic.Id) >= 1);
    }

    [Fact]
    public async Task Sign_out_everywhere_ends_every_other_session_at_once()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var staff = await ConsoleClient.StaffAsync(clinic.Id, "admin");
        using var phone = new ConsoleClient();
        using var desk = new ConsoleClient();
        await phone.SignInAsync(staff.Email);
        await desk.SignInAsync(staff.Email);
        Assert.Equal(HttpStatusCode.OK, (await phone.GetAsync(ConsoleRoutes.Queue)).Status);

        await desk.GetAsync(ConsoleRoutes.Account);
        var everywhere = await desk.PostAsync(ConsoleRoutes.Account + "/sign-out-everywhere");
        Assert.Equal(ConsoleRoutes.Account + "?done=everywhere", everywhere.Location);
        Assert.Equal(HttpStatusCode.OK, (await desk.GetAsync(ConsoleRoutes.Queue)).Status);
        var ended = await phone.GetAsync(ConsoleRoutes.Queue);
        Assert.Equal(HttpStatusCode.SeeOther, ended.Status);
        Assert.Equal(ConsoleRoutes.SignIn, ended.Location);

        // Signing out clears this browser's cookie.
        await desk.GetAsync(ConsoleRoutes.Today);
        var signOut = await desk.PostAsync(ConsoleRoutes.SignOut);
        Assert.Equal(ConsoleRoutes.SignIn, signOut.Location);
        Assert.Equal(HttpStatusCode.SeeOther, (await desk.GetAsync(ConsoleRoutes.Today)).Status);
    }

    [Fact]
    public async Task A_session_ends_after_its_idle_and_absolute_limits()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var staff = await ConsoleClient.StaffAsync(clinic.Id, "admin");
        var sessions = TestApp.Factory.Services.GetRequiredService<ConsoleSessions>();
        var now = DateTimeOffset.UtcNow;
        async Task<HttpStatusCode> WithCookieAsync(SessionCookie cookie)
        {
            using var client = new ConsoleClient();
            client.Http.DefaultRequestHeaders.Add("Cookie", ConsoleSessions.CookieName + "=" + sessions.Seal(cookie));
            return (await client.GetAsync(ConsoleRoutes.Today)).Status;
        }
        var fresh = new SessionCookie(clinic.Id, staff.Id, 1, SessionStages.Full, now.AddMinutes(-5), now.AddMinutes(-1));
        Assert.Equal(HttpStatusCode.OK, await WithCookieAsync(fresh));
        Assert.Equal(HttpStatusCode.SeeOther, await WithCookieAsync(fresh with { SeenAt = now - sessions.Idle - TimeSpan.FromMinutes(1) }));
        Assert.Equal(HttpStatusCode.SeeOther, await WithCookieAsync(fresh with { IssuedAt = now - sessions.Absolute - TimeSpan.FromMinutes(1) }));
        // A cookie for the right account but an older generation, or for a disabled account, opens nothing.
        Assert.Equal(HttpStatusCode.SeeOther, await WithCookieAsync(fresh with { Generation = 0 }));
        await TestApp.ExecAsync("update staff_accounts set disabled_at = now() where id = $1", staff.Id);
        Assert.Equal(HttpStatusCode.SeeOther, await WithCookieAsync(fresh));
    }

    [Fact]
    public async Task The_session_cookie_is_HttpOnly_SameSite_Strict_under_console_and_Secure_off_loopback()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var staff = await ConsoleClient.StaffAsync(clinic.Id, "admin");
        using var client = new ConsoleClient();
        var r = await client.SignInAsync(staff.Email);
        var cookie = r.Response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(ConsoleSessions.CookieName + "=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/console", cookie, StringComparison.OrdinalIgnoreCase);

        var remote = new DefaultHttpContext();
        remote.Connection.RemoteIpAddress = IPAddress.Parse("203.0.113.9");
        Assert.True(ConsoleSessions.SecureCookie(remote));
        var local = new DefaultHttpContext();
        local.Connection.RemoteIpAddress = IPAddress.Loopback;
        Assert.False(ConsoleSessions.SecureCookie(local));
        local.Request.IsHttps = true;
        Assert.True(ConsoleSessions.SecureCookie(local));
    }

    [Fact]
    public async Task Forms_without_a_valid_CSRF_field_or_with_garbage_bodies_are_400_and_change_nothing()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 1);
        var (client, _) = await ConsoleClient.SignedInAsync(clinic.Id, "admin");
        using var _c = client;
        var erase = $"{ConsoleRoutes.Patients}/{clinic.PatientIds[0]}/erase";

        var noCsrf = await client.PostRawAsync(erase, new FormUrlEncodedContent([new("confirm", "ERASE")]));
        Assert.Equal(HttpStatusCode.BadRequest, noCsrf.Status);
        Assert.Equal("Please try again", noCsrf.H1);
        var forged = await client.PostRawAsync(erase, new FormUrlEncodedContent([new("confirm", "ERASE"), new("csrf", "forged-value")]));
        Assert.Equal(HttpStatusCode.BadRequest, forged.Status);
        var json = await client.PostRawAsync(erase, new StringContent("{\"confirm\":\"ERASE\"}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, json.Status);
        var brokenMultipart = new StringContent("--xyz\r\nContent-Disposition: form-data; name=\"confirm\"\r\n\r\nERA", System.Text.Encoding.UTF8);
        brokenMultipart.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("multipart/form-data; boundary=xyz");
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostRawAsync(erase, brokenMultipart)).Status);
        var garbage = new ByteArrayContent([0xff, 0xfe, 0x00, 0x01, 0x80]);
        garbage.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("application/x-www-form-urlencoded");
        Assert.True((int)(await client.PostRawAsync(erase, garbage)).Status is >= 400 and < 500);
        Assert.Null(await TestApp.ScalarAsync<DateTime?>("select erased_at from patients where id = $1", clinic.PatientIds[0]));

        // A NUL in a search or a filter is not text anyone typed: a 4xx, never the database's error.
        await client.GetAsync(ConsoleRoutes.Patients);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync(ConsoleRoutes.Patients, ("q", "Pat\0ient"))).Status);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(ConsoleRoutes.Audit + "?actor=a%00b")).Status);
    }

    [Fact]
    public async Task Sign_in_posts_from_one_address_are_limited_per_minute_before_any_password_is_checked()
    {
        using var forms = new ConsoleForms(TestApp.Factory.Services.GetRequiredService<Frontdesk.Platform.DevSecrets>(),
            new ConsoleOptions { SignInPermitsPerMinute = 2 });
        HttpContext From(string ip)
        {
            var http = new DefaultHttpContext { RequestServices = TestApp.Factory.Services };
            http.Connection.RemoteIpAddress = IPAddress.Parse(ip);
            return http;
        }
        Assert.Null(await forms.SignInLimitAsync(From("198.51.100.7")));
        Assert.Null(await forms.SignInLimitAsync(From("198.51.100.7")));
        var third = From("198.51.100.7");
        var limited = await forms.SignInLimitAsync(third);
        Assert.Equal(429, limited!.StatusCode);
        Assert.Contains("Too many attempts", limited.ResponseContent);
        Assert.True(int.Parse(third.Response.Headers.RetryAfter!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Null(await forms.SignInLimitAsync(From("198.51.100.8")));
    }

    static byte[] FromBase32(string s)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bytes = new List<byte>();
        int buffer = 0, bits = 0;
        foreach (var c in s)
        {
            buffer = (buffer << 5) | alphabet.IndexOf(c, StringComparison.Ordinal);
            bits += 5;
            if (bits >= 8)
            {
                bytes.Add((byte)(buffer >> (bits - 8)));
                bits -= 8;
            }
        }
        return [.. bytes];
    }
}
