using System.Net;
using System.Net.Http.Json;
using Frontdesk.StaffConsole;
using Frontdesk.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Frontdesk.Tests.StaffConsole;

/// <summary>The console's small rules on their own: wording of outcomes, masking, TOTP arithmetic, the command's arguments.</summary>
public class ConsoleUnitTests
{
    [Theory]
    [InlineData(null, "ended", true, false, "Booked", "ok")]
    [InlineData("customer-ended-call", "ended", false, true, "Hung up · follow-up sent", "info")]
    [InlineData(null, "in-progress", false, false, "In progress", "info")]
    [InlineData(null, "ended", false, false, "Ended", "")]
    [InlineData("customer-ended-call", "ended", false, false, "Caller hung up", "")]
    [InlineData("assistant-said-end-call-phrase", "ended", false, false, "Ended by receptionist", "")]
    [InlineData("assistant-forwarded-call", "ended", false, false, "Transferred", "info")]
    [InlineData("silence-timed-out", "ended", false, false, "Silence, ended", "warn")]
    [InlineData("exceeded-max-duration", "ended", false, false, "Too long, ended", "warn")]
    [InlineData("voicemail", "ended", false, false, "Voicemail", "warn")]
    [InlineData("customer-did-not-answer", "ended", false, false, "No answer", "warn")]
    [InlineData("customer-busy", "ended", false, false, "No answer", "warn")]
    [InlineData("pipeline-error-openai-llm-failed", "ended", false, false, "Failed: pipeline-error-openai-llm-failed", "bad")]
    [InlineData("manually-canceled", "ended", false, false, "manually-canceled", "")]
    public void Call_outcomes_are_worded_from_our_bookings_and_follow_ups_first_then_Vapis_ended_reason(
        string? endedReason, string status, bool booked, bool followedUp, string text, string kind) =>
        Assert.Equal((text, kind), ConsoleText.Outcome(endedReason, status, booked, followedUp));

    [Theory]
    [InlineData("delivered", "Delivered", "ok")]
    [InlineData("sent", "Sent", "info")]
    [InlineData("queued", "Queued", "info")]
    [InlineData("undelivered", "Not delivered", "bad")]
    [InlineData("failed", "Not delivered", "bad")]
    [InlineData("unknown", "Needs review", "warn")]
    [InlineData(null, "No message", "")]
    [InlineData("receiving", "receiving", "")]
    public void Delivery_states_read_as_a_person_would_say_them(string? status, string text, string kind) =>
        Assert.Equal((text, kind), ConsoleText.Delivery(status));

    [Fact]
    public void Callers_show_a_first_name_or_the_last_three_digits_never_the_number()
    {
        Assert.Equal("Jane", ConsoleText.Caller("  Jane Doe ", "+447900123456"));
        Assert.Equal("Number ending 456", ConsoleText.Caller(null, "+447900123456"));
        Assert.Equal("Unknown number", ConsoleText.Caller(" ", null));
        Assert.Equal("Unknown number", ConsoleText.Caller(null, "12"));
        Assert.Equal("+44 ••• ••• 456", ConsoleText.MaskedPhone("+447900123456"));
        Assert.Equal(" ••• ••• 456", ConsoleText.MaskedPhone("07900123456"));
        Assert.Equal("•••", ConsoleText.MaskedPhone("123"));
        Assert.Equal("—", ConsoleText.MaskedPhone(null));
        Assert.Equal("(no name)", ConsoleText.FirstName(null));
        Assert.Equal("Alan", ConsoleText.FirstName("Alan Turing"));
        Assert.Equal("by phone", TodayPage.Source("vapi"));
        Assert.Equal("from the SMS link", TodayPage.Source("sms_link"));
        Assert.Equal("by staff", TodayPage.Source("api"));
        Assert.Equal("by staff", TodayPage.Source("console"));
        Assert.Equal("waitlist", TodayPage.Source("waitlist"));
    }

    [Fact]
    public void TOTP_matches_RFC_6238s_test_vector_and_refuses_malformed_codes()
    {
        // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 → its last six digits.
        var secret = "12345678901234567890"u8.ToArray();
        Assert.Equal("287082", Totp.Code(secret, Totp.StepAt(DateTimeOffset.FromUnixTimeSeconds(59))));
        var at = DateTimeOffset.FromUnixTimeSeconds(59);
        Assert.Equal(1L, Totp.Match(secret, "287 082", at, null));
        Assert.Null(Totp.Match(secret, "287082", at, lastUsedStep: 1));
        Assert.Null(Totp.Match(secret, "28708a", at, null));
        Assert.Null(Totp.Match(secret, "28708", at, null));
        Assert.Null(Totp.Match(secret, null, at, null));
        Assert.Equal("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", Totp.Base32(secret));
        Assert.Equal("GEZD GNBV G", Totp.Grouped("GEZDGNBVG"));
        Assert.Equal("otpauth://totp/Frontdesk%20A:a%40b.test?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Frontdesk%20A&algorithm=SHA1&digits=6&period=30",
            Totp.Uri("Frontdesk A", "a@b.test", secret));
    }

    [Fact]
    public async Task Staff_command_refuses_bad_arguments_unknown_clinics_and_short_passwords_from_stdin()
    {
        using var usage = new StringWriter();
        Assert.Equal(2, await StaffCommand.RunAsync(["remove"], TextReader.Null, usage));
        Assert.Contains(StaffCommand.Usage, usage.ToString());
        Assert.Null(StaffCommand.Parse(["add", "--clinic"], out var error));
        Assert.Contains("Unexpected argument", error);
        Assert.Null(StaffCommand.Parse(["add", "--clinic", Guid.NewGuid().ToString(), "--email", "not-an-address", "--role", "admin"], out error));
        Assert.Contains("--email", error);
        var parsed = StaffCommand.Parse(["add", "--clinic", Guid.NewGuid().ToString(), "--email", "Pat@Clinic.test", "--role", "doctor", "--password-stdin"], out error);
        Assert.Equal(("pat@clinic.test", "pat", true), (parsed!.Email, parsed.DisplayName, parsed.PasswordFromStdin));

        using var shortPassword = new StringWriter();
        Assert.Equal(2, await StaffCommand.AddAsync(TestApp.Factory.Services, parsed, new StringReader("short\n"), shortPassword, CancellationToken.None));
        Assert.Contains("not acceptable", shortPassword.ToString());
        using var noClinic = new StringWriter();
        Assert.Equal(1, await StaffCommand.AddAsync(TestApp.Factory.Services, parsed, new StringReader("a long enough password\n"), noClinic, CancellationToken.None));
        Assert.Contains("No clinic", noClinic.ToString());

        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var ok = new StringWriter();
        Assert.Equal(0, await StaffCommand.AddAsync(TestApp.Factory.Services, parsed with { ClinicId = clinic.Id },
            new StringReader("a long enough password\n"), ok, CancellationToken.None));
        Assert.Contains("must be changed at first sign-in", ok.ToString());
        using var client = new ConsoleClient();
        Assert.Equal(ConsoleRoutes.Password, (await client.SignInAsync("pat@clinic.test", "a long enough password")).Location);
    }

    [Fact]
    public async Task Wrong_codes_at_the_second_step_lock_the_account_and_turning_TOTP_off_needs_the_password()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var staff = await ConsoleClient.StaffAsync(clinic.Id, "admin");
        var accounts = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<StaffAccounts>(TestApp.Factory.Services);
        var secret = await accounts.BeginTotpAsync(clinic.Id, staff.Id, CancellationToken.None);
        Assert.False(await accounts.ConfirmTotpAsync(clinic.Id, staff.Id, "123", CancellationToken.None));
        Assert.True(await accounts.ConfirmTotpAsync(clinic.Id, staff.Id, Totp.Code(secret, Totp.StepAt(DateTimeOffset.UtcNow)), CancellationToken.None));

        using var client = new ConsoleClient();
        Assert.Equal(ConsoleRoutes.Code, (await client.SignInAsync(staff.Email)).Location);
        await client.GetAsync(ConsoleRoutes.Code);
        for (var i = 0; i < 4; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync(ConsoleRoutes.Code, ("code", "000000"))).Status);
        var locked = await client.PostAsync(ConsoleRoutes.Code, ("code", "000000"));
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.Status);
        // The pending session is gone with the lock.
        Assert.Equal(ConsoleRoutes.SignIn, (await client.GetAsync(ConsoleRoutes.Code)).Location);
        Assert.Equal(ConsoleRoutes.SignIn, (await client.PostAsync(ConsoleRoutes.Code, ("code", "000000"))).Location);

        await TestApp.ExecAsync("update staff_accounts set locked_until = null, failed_attempts = 0 where id = $1", staff.Id);
        using var again = new ConsoleClient();
        await again.SignInAsync(staff.Email);
        await again.GetAsync(ConsoleRoutes.Code);
        Assert.Equal(ConsoleRoutes.Today, (await again.PostAsync(ConsoleRoutes.Code, ("code", Totp.Code(secret, Totp.StepAt(DateTimeOffset.UtcNow) + 1)))).Location);
        var account = await again.GetAsync(ConsoleRoutes.Account);
        Assert.Contains("A code from your authenticator app is asked for", account.Text);
        var wrong = await again.PostAsync(ConsoleRoutes.Account + "/totp/disable", ("password", "not it"));
        Assert.Equal(HttpStatusCode.BadRequest, wrong.Status);
        Assert.True(await TestApp.ScalarAsync<bool>("select totp_secret is not null from staff_accounts where id = $1", staff.Id));
        Assert.Equal(ConsoleRoutes.Account + "?done=totp-off", (await again.PostAsync(ConsoleRoutes.Account + "/totp/disable", ("password", ConsoleClient.Password))).Location);
        Assert.True(await TestApp.ScalarAsync<bool>("select totp_secret is null from staff_accounts where id = $1", staff.Id));
        // Without a pending enrolment the enrolment page sends you back to the account.
        Assert.Equal(ConsoleRoutes.Account, (await again.GetAsync(ConsoleRoutes.Account + "/totp")).Location);
        Assert.Equal(ConsoleRoutes.Account, (await again.PostAsync(ConsoleRoutes.Account + "/totp", ("code", "123456"))).Location);
    }
}

/// <summary>The two API additions the console needed: a clinic's Vapi wiring, and listing/deleting knowledge documents.</summary>
public class ConsoleApiAdditionsTests
{
    [Fact]
    public async Task Vapi_settings_never_return_the_secret_are_admin_only_and_refuse_another_clinics_assistant_id()
    {
        var a = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var b = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var assistant = "asst-" + Guid.NewGuid().ToString("N");
        using var adminA = TestApp.As(a.Id, "admin");
        var put = await adminA.PutAsJsonAsync($"/api/clinics/{a.Id}/vapi", new { assistantId = assistant, hmac = false, secret = "sixteen-chars-secret" });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var body = await put.Content.ReadAsStringAsync();
        Assert.Contains("\"secretSet\":true", body);
        Assert.DoesNotContain("sixteen-chars-secret", body);
        Assert.Contains(assistant, await adminA.GetStringAsync($"/api/clinics/{a.Id}/vapi"));

        using var receptionist = TestApp.As(a.Id, "receptionist");
        Assert.Equal(HttpStatusCode.Forbidden, (await receptionist.PutAsJsonAsync($"/api/clinics/{a.Id}/vapi", new { hmac = true })).StatusCode);
        using var adminB = TestApp.As(b.Id, "admin");
        var taken = await adminB.PutAsJsonAsync($"/api/clinics/{b.Id}/vapi", new { assistantId = assistant });
        Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
        Assert.Contains(Frontdesk.Platform.Problems.Conflict, await taken.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, (await adminB.PutAsJsonAsync($"/api/clinics/{b.Id}/vapi", new { assistantId = new string('x', 201) })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await adminB.GetAsync($"/api/clinics/{a.Id}/vapi")).StatusCode);
        using var service = TestApp.Service();
        Assert.Equal(HttpStatusCode.NotFound, (await service.PutAsJsonAsync($"/api/clinics/{Guid.NewGuid()}/vapi", new { hmac = true })).StatusCode);
    }

    [Fact]
    public async Task Knowledge_documents_are_listed_to_members_and_deleted_by_admins_with_their_passages()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = TestApp.As(clinic.Id, "admin");
        var saved = await TestClinic.Json(await admin.PostAsJsonAsync($"/api/clinics/{clinic.Id}/knowledge/documents",
            new { title = "Parking", source = "parking.md", content = "# Parking\n\nThere is a car park behind the clinic." }));
        var id = saved.GetProperty("id").GetGuid();
        using var receptionist = TestApp.As(clinic.Id, "receptionist");
        Assert.Contains("parking.md", await receptionist.GetStringAsync($"/api/clinics/{clinic.Id}/knowledge/documents"));
        Assert.Equal(HttpStatusCode.Forbidden, (await receptionist.DeleteAsync($"/api/clinics/{clinic.Id}/knowledge/documents/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/clinics/{clinic.Id}/knowledge/documents/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"/api/clinics/{clinic.Id}/knowledge/documents/{id}")).StatusCode);
        Assert.Equal("[]", await receptionist.GetStringAsync($"/api/clinics/{clinic.Id}/knowledge/documents"));
        Assert.Equal("[]", await receptionist.GetStringAsync($"/api/clinics/{clinic.Id}/knowledge/search?q=car%20park"));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'knowledge_document_deleted'", clinic.Id));
    }
}

public class ConsoleKeyRotationTests
{
    [Fact]
    public async Task Rotate_keys_rewraps_staff_TOTP_secrets_so_the_retired_master_key_can_go()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var staff = await ConsoleClient.StaffAsync(clinic.Id, "doctor");
        var services = TestApp.Factory.Services;
        var current = services.GetRequiredService<StaffAccounts>();
        var secret = await current.BeginTotpAsync(clinic.Id, staff.Id, CancellationToken.None);
        var step = Totp.StepAt(DateTimeOffset.UtcNow);
        Assert.True(await current.ConfirmTotpAsync(clinic.Id, staff.Id, Totp.Code(secret, step), CancellationToken.None));
        await current.BeginTotpAsync(clinic.Id, staff.Id, CancellationToken.None);   // a pending re-enrolment too

        var oldKey = new byte[32].Select((_, i) => (byte)(i * 7 + 1)).ToArray();
        var newKey = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        StaffAccounts With(Frontdesk.Privacy.IKeyEncryptionKeys keys) => new(TestApp.Db, keys, new ConsoleOptions(), TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<StaffAccounts>.Instance);
        var rotating = With(new Frontdesk.Privacy.LocalKeyEncryptionKeys(newKey, [oldKey]));
        Assert.Equal(1, await rotating.RewrapTotpAsync(clinic.Id, CancellationToken.None));
        Assert.Equal(0, await rotating.RewrapTotpAsync(clinic.Id, CancellationToken.None));
        var newId = Frontdesk.Privacy.LocalKeyEncryptionKeys.IdOf(newKey);
        Assert.Equal($"{newId}|{newId}", await TestApp.ScalarAsync<string>("select totp_key_id || '|' || totp_pending_key_id from staff_accounts where id = $1", staff.Id));

        // Only the new key from here on: the code still verifies.
        var onlyNew = With(new Frontdesk.Privacy.LocalKeyEncryptionKeys(newKey, []));
        Assert.IsType<SignInResult.Verified>(await onlyNew.VerifyCodeAsync(clinic.Id, staff.Id, Totp.Code(secret, step + 1), CancellationToken.None));
        Assert.NotNull(await onlyNew.PendingTotpAsync(clinic.Id, staff.Id, CancellationToken.None));
    }
}
