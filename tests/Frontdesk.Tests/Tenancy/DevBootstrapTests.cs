using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.StaffConsole;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Frontdesk.Tests.Tenancy;

/// <summary>
/// README's first command in Development on the private cluster: a demo clinic with a practitioner and
/// a week of slots, demo staff for the console, and tokens printed to the console that work as they
/// are. Runs in-process on the test run's own private cluster (the data folder it lives in), so no
/// second cluster is made; the subprocess version is FirstRunTests.
/// </summary>
public class DevBootstrapTests
{
    /// <summary>Console output is process-wide: one test here writes it at a time.</summary>
    static readonly SemaphoreSlim ConsoleGate = new(1, 1);

    /// <summary>Starts a Development instance on the private cluster and returns what it printed.</summary>
    static async Task<(WebApplicationFactory<Program> App, string Printed)> StartAsync()
    {
        var dataDir = Path.GetDirectoryName(TestApp.Factory.DataDir)!;   // /tmp/frontdesk-test-{pid}: its pg/ is the test cluster
        await ConsoleGate.WaitAsync();
        var original = Console.Out;
        var captured = new StringWriter();
        try
        {
            Console.SetOut(TextWriter.Synchronized(captured));
            var app = TestApp.Factory.WithWebHostBuilder(b =>
            {
                b.UseEnvironment("Development");
                b.UseSetting("FRONTDESK_DATABASE_URL", "");
                b.UseSetting("FRONTDESK_DATA_DIR", dataDir);
            });
            app.CreateClient().Dispose();
            return (app, captured.ToString());
        }
        finally
        {
            Console.SetOut(original);
            ConsoleGate.Release();
        }
    }

    static string Printed(string output, string label) =>
        Regex.Match(output, "^\\s*" + Regex.Escape(label) + "\\s*: (\\S+)\\s*$", RegexOptions.Multiline) is { Success: true } m
            ? m.Groups[1].Value
            : throw new Xunit.Sdk.XunitException($"'{label}' was not printed:\n{output}");

    [Fact]
    public async Task A_development_start_makes_a_demo_clinic_once_and_prints_tokens_and_a_staff_password_that_work()
    {
        var (app, printed) = await StartAsync();
        await using (app)
        {
            var clinicId = Guid.Parse(Regex.Match(printed, "demo clinic ([0-9a-f-]{36})").Groups[1].Value);
            Assert.Equal(("Demo Clinic", "Europe/London"), (await TestApp.ScalarAsync<string>("select name from clinics where id = $1", clinicId),
                await TestApp.ScalarAsync<string>("select timezone from clinics where id = $1", clinicId)));
            // A week of half-hour slots, 09:00–17:00 UTC, all ahead.
            Assert.Equal(112L, await TestApp.ScalarAsync<long>("select count(*) from calendar_slots where clinic_id = $1 and starts_at > now()", clinicId));
            Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from practitioners where clinic_id = $1", clinicId));
            Assert.NotNull(await TestApp.ScalarAsync<string>("select vapi_secret from clinics where id = $1", clinicId));

            // The printed tokens are accepted as they are, each with its role.
            async Task<HttpResponseMessage> AsAsync(string label, string url)
            {
                using var c = app.CreateClient();
                c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Printed(printed, label));
                return await c.GetAsync(url);
            }
            var data = await TestClinic.Json(await AsAsync("admin", "/functions/v1/get_clinic_data"));
            Assert.Contains(clinicId.ToString(), data.ToString(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, (await AsAsync("service_role", $"/api/clinics/{clinicId}")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await AsAsync("receptionist", $"/api/clinics/{clinicId}/review")).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await AsAsync("doctor", $"/api/clinics/{clinicId}/review")).StatusCode);
            Assert.Contains("https://frontdesk.test/functions/v1/get_clinic_data", printed, StringComparison.Ordinal);

            // One account per role, no forced password change, and the printed password signs in.
            Assert.Equal("admin,doctor,receptionist", await TestApp.ScalarAsync<string>(
                "select string_agg(role || '', ',' order by role) from staff_accounts where clinic_id = $1 and not must_change_password", clinicId));
            var password = Regex.Match(printed, "doctor@demo.clinic, password (\\S+)").Groups[1].Value;
            using var browser = new ConsoleClient(app);
            var signedIn = await browser.SignInAsync("receptionist@demo.clinic", password);
            Assert.Equal(HttpStatusCode.Redirect, signedIn.Status);
            Assert.NotEqual(Frontdesk.StaffConsole.ConsoleRoutes.Password, signedIn.Location);
            Assert.DoesNotContain(password, await TestApp.ScalarAsync<string>("select string_agg(password_hash, '') from staff_accounts where clinic_id = $1", clinicId), StringComparison.Ordinal);

            // Started again: the same clinic, accounts and password; nothing made twice.
            var (again, reprinted) = await StartAsync();
            await using (again)
            {
                Assert.Contains($"demo clinic {clinicId}", reprinted, StringComparison.Ordinal);
                Assert.Contains("password " + password, reprinted, StringComparison.Ordinal);
                Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from clinics where name = 'Demo Clinic'"));
                Assert.Equal(3L, await TestApp.ScalarAsync<long>("select count(*) from staff_accounts where clinic_id = $1", clinicId));
                Assert.Equal(112L, await TestApp.ScalarAsync<long>("select count(*) from calendar_slots where clinic_id = $1", clinicId));
            }
        }
    }

    [Fact]
    public async Task Outside_Development_nothing_is_made_and_nothing_is_printed()
    {
        await ConsoleGate.WaitAsync();
        var original = Console.Out;
        var captured = new StringWriter();
        try
        {
            Console.SetOut(TextWriter.Synchronized(captured));
            await using var app = TestApp.Factory.WithWebHostBuilder(b => b.UseSetting("FRONTDESK_DATA_DIR", Path.GetDirectoryName(TestApp.Factory.DataDir)));
            app.CreateClient().Dispose();
        }
        finally
        {
            Console.SetOut(original);
            ConsoleGate.Release();
        }
        Assert.DoesNotContain("Frontdesk development server", captured.ToString(), StringComparison.Ordinal);
    }
}
