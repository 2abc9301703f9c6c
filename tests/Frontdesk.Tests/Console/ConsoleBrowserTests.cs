using System.Net.Http.Headers;
using System.Net.Http.Json;
using Frontdesk.Inbox;
using Frontdesk.Platform;
using Frontdesk.StaffConsole;
using Frontdesk.Tests.BookingPage;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Frontdesk.Tests.StaffConsole;

/// <summary>
/// The console in headless Chromium on real Kestrel (cookies, redirects and the CSP as a browser gets
/// them): sign in, see a call sent through the Vapi webhook, act on the work queue, erase a patient and
/// see them gone; a second clinic's admin sees none of it; lockout; two-step sign-in. Every page is
/// photographed at 1280 px and 360 px into TestResults/artifacts/.
/// </summary>
public class ConsoleBrowserTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_clinic_team_works_in_the_console_in_Chromium_at_1280_and_360_px()
    {
        HeadlessChromium.AssertInstalled();
        await using var app = await KestrelApp.StartAsync();
        var baseUrl = app.Urls.Single();

        // A clinic with a diary, a patient with a booking, a call through the real webhook, and two items for the queue.
        var day = DateTimeOffset.UtcNow.Date.AddDays(1);
        var clinic = await TestClinic.CreateAsync(slots: 6, patients: 1, firstSlot: new DateTimeOffset(day.AddHours(9), TimeSpan.Zero), timezone: "Europe/London",
            name: "Harley Street Aesthetics");
        var patientId = clinic.PatientIds[0];
        await TestApp.ExecAsync("update patients set name = 'Grace Hopper' where id = $1", patientId);
        var secret = "vapi-" + Guid.NewGuid().ToString("N");
        await TestApp.ExecAsync("update clinics set vapi_secret = $1 where id = $2", secret, clinic.Id);
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.Token(RequestClaims.ForClinic(clinic.Id, "setup", "admin")));
        Assert.True((await http.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = clinic.SlotIds[1], patientId, clinicId = clinic.Id })).IsSuccessStatusCode);
        await http.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = clinic.SlotIds[3], patientId, clinicId = clinic.Id });
        var failedBooking = await TestApp.ScalarAsync<Guid>("select id from bookings where slot_id = $1", clinic.SlotIds[3]);
        await TestApp.ExecAsync("update bookings set calendar_status = 'failed', calendar_error = 'Google answered 404: calendar not found' where id = $1", failedBooking);
        await TestApp.ExecAsync("insert into calendar_jobs (clinic_id, booking_id, op, done_at) values ($1, $2, 'create', now()) on conflict do nothing", clinic.Id, failedBooking);
        var caller = "+44790" + Random.Shared.Next(1000000, 9999999).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var callId = "call-" + Guid.NewGuid().ToString("N");
        using var anon = new HttpClient { BaseAddress = new Uri(baseUrl) };
        // During the call the caller asks for a callback and asks what the knowledge base cannot answer (the webhook's tools).
        Assert.False((await VapiToolAsync(anon, secret, callId, caller, "request_callback", new { reason = "wants to move her consultation", preferredTime = "after 5pm" })).Error);
        Assert.False((await VapiToolAsync(anon, secret, callId, caller, "lookup_knowledge", new { question = "Is there parking near you?" })).Error);
        Assert.True((await ConsoleClient.PostVapiAsync(anon, secret, ConsoleClient.EndOfCallReport(callId, caller,
                ConsoleClient.EarlierToday(TimeSpan.FromMinutes(3)), "AI: Hello, Harley Street Aesthetics.\nUser: Hi, this is Maria, how much is a rhinoplasty? Sorry, I have to go.",
                summary: "Maria asked about rhinoplasty prices and hung up before booking."))).IsSuccessStatusCode);
        var callbackId = await TestApp.ScalarAsync<Guid>("select id from callbacks where clinic_id = $1", clinic.Id);
        var gapId = await TestApp.ScalarAsync<Guid>("select id from knowledge_gaps where clinic_id = $1", clinic.Id);
        // A patient's SMS that is not a reply word reaches the inbox (the reply webhook's own code, in this server).
        var inboxed = await app.Services.GetRequiredService<InboundReplies>().HandleAsync([clinic.Id],
            (await TestApp.ScalarAsync<string>("select phone from patients where id = $1", patientId))!, "SM" + Guid.NewGuid().ToString("N"),
            "Can I bring my husband along?", ReplyKind.Message, CancellationToken.None);
        var replyId = Assert.IsType<ReplyOutcome.Inboxed>(inboxed).ReplyId;
        var review = await TestApp.ScalarAsync<Guid>("""
            insert into sms_messages (clinic_id, to_hash, segments, encoding, status, error_message) values ($1, $2, 1, 'GSM-7', 'review', 'timeout') returning id
            """, clinic.Id, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

        var admin = await ConsoleClient.StaffAsync(clinic.Id, "admin");
        await TestApp.ExecAsync("update staff_accounts set display_name = 'Ada Admin' where id = $1", admin.Id);
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0, name: "Another Clinic");
        var stranger = await ConsoleClient.StaffAsync(other.Id, "admin");
        var artifacts = BookingPageBrowserTests.ArtifactsDir();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = HeadlessChromium.Path, Args = HeadlessChromium.Args, Headless = true });

        // --- the clinic's admin, on a desktop ---------------------------------------------------------
        await using (var desk = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } }))
        {
            var page = await desk.NewPageAsync();
            await page.GotoAsync(baseUrl + "/");
            Assert.EndsWith(ConsoleRoutes.SignIn, page.Url);
            await ShotAsync(page, artifacts, "sign-in", 1280);
            await SignInAsync(page, admin.Email);
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Today");
            var call = page.Locator("section[aria-labelledby=calls-h] li");
            await Assertions.Expect(call).ToHaveCountAsync(1);
            Assert.DoesNotContain(caller[3..], await call.TextContentAsync());
            await Assertions.Expect(call).ToContainTextAsync("Hung up · follow-up sent");
            await Assertions.Expect(call).ToContainTextAsync("Rhinoplasty");
            await BookingPageBrowserTests.CheckAccessibilityAsync(page);

            // Keyboard: the skip link is the first tab stop and lands on the main content.
            await page.Keyboard.PressAsync("Tab");
            Assert.Equal("Skip to content", await page.EvaluateAsync<string>("document.activeElement.textContent"));
            Assert.NotEqual("none", await page.EvaluateAsync<string>("getComputedStyle(document.activeElement).outlineStyle"));

            await ShotAllAsync(page, baseUrl, artifacts, 1280, clinic, patientId);

            // The work queue: the message needing review, and the failed calendar sync retried.
            await page.GotoAsync(baseUrl + ConsoleRoutes.Queue);
            // Every kind of item at once, as a phone shows it.
            await page.SetViewportSizeAsync(360, 740);
            await ShotAsync(page, artifacts, "queue-items", 360);
            await page.SetViewportSizeAsync(1280, 800);
            await Assertions.Expect(page.Locator("ul.items > li").First).ToContainTextAsync("Needs review");
            await page.GetByRole(AriaRole.Button, new() { Name = "Try again" }).ClickAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Done.");
            // Re-armed (a new version of the job, the booking no longer 'failed'). Any instance's calendar worker
            // on this database may already have converged it (the test suite's calendar tests run such
            // instances), so the state after that is not asserted here.
            Assert.Equal("1|2", await TestApp.ScalarAsync<string>("""
                select (b.calendar_status is distinct from 'failed')::int || '|' || j.version
                from bookings b join calendar_jobs j on j.clinic_id = b.clinic_id and j.booking_id = b.id where b.id = $1
                """, failedBooking));
            await page.GetByRole(AriaRole.Button, new() { Name = "Mark as sent" }).ClickAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Status).First).ToContainTextAsync("Done.");
            Assert.Equal("sent", await TestApp.ScalarAsync<string>("select status from sms_messages where id = $1", review));

            // The callback: call notes, then "Called back".
            var callback = page.Locator("ul.items > li", new() { HasText = "Call back " + caller });
            await Assertions.Expect(callback).ToContainTextAsync("after 5pm");
            await callback.GetByRole(AriaRole.Textbox).FillAsync("Rang back, moved to Tuesday.");
            await callback.GetByRole(AriaRole.Button, new() { Name = "Called back" }).ClickAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Status).First).ToContainTextAsync("Done.");
            await Assertions.Expect(page.Locator("ul.items > li", new() { HasText = "Call back " + caller })).ToHaveCountAsync(0);
            Assert.Equal("done|1", await TestApp.ScalarAsync<string>("select status || '|' || (note is not null)::int from callbacks where id = $1", callbackId));

            // The patient's text in the inbox: read, marked handled.
            var reply = page.Locator("ul.items > li", new() { HasText = "Text from Grace Hopper" });
            await Assertions.Expect(reply).ToContainTextAsync("Can I bring my husband along?");
            await reply.GetByRole(AriaRole.Button, new() { Name = "Mark handled" }).ClickAsync();
            await Assertions.Expect(page.Locator("ul.items > li", new() { HasText = "Text from Grace Hopper" })).ToHaveCountAsync(0);
            Assert.Equal("handled", await TestApp.ScalarAsync<string>("select status from sms_replies where id = $1", replyId));

            // The question nobody could answer: answered here, and the next caller's search returns the answer.
            var gap = page.Locator("ul.items > li", new() { HasText = "Is there parking near you?" });
            await gap.GetByRole(AriaRole.Textbox).FillAsync("There is a pay and display car park two minutes away on Weymouth Street.");
            await gap.GetByRole(AriaRole.Button, new() { Name = "Answer", Exact = true }).ClickAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Status).First).ToContainTextAsync("Done.");
            await Assertions.Expect(page.Locator("ul.items > li", new() { HasText = "Is there parking near you?" })).ToHaveCountAsync(0);
            var (next, nextError) = await VapiToolAsync(anon, secret, "call-" + Guid.NewGuid().ToString("N"), "+447700900123", "lookup_knowledge",
                new { question = "where can I park?" });
            Assert.False(nextError, next);
            Assert.Contains("Weymouth Street", next, StringComparison.Ordinal);
            await ShotAsync(page, artifacts, "queue-done", 1280);

            // Find the patient by a posted search (nothing in the URL), open her, erase her with the typed confirmation.
            await page.GotoAsync(baseUrl + ConsoleRoutes.Patients);
            await page.GetByLabel("Name or phone number").FillAsync("Grace");
            await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
            Assert.DoesNotContain("Grace", page.Url);
            await page.GetByRole(AriaRole.Link, new() { Name = "Grace Hopper" }).ClickAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Grace Hopper");
            var patientUrl = page.Url;
            await page.GetByLabel("Type ERASE").FillAsync("ERASE");
            await page.GetByRole(AriaRole.Button, new() { Name = "Erase patient" }).ClickAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("personal data is erased");
            await page.GetByLabel("Name or phone number").FillAsync("Grace");
            await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("No patient matches.");
            await page.GotoAsync(patientUrl);
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Erased patient");
            Assert.Null(await TestApp.ScalarAsync<string>("select name from patients where id = $1", patientId));
        }

        // --- the same pages on a 360 px phone ------------------------------------------------------------
        var phonePatient = await AddPatientAsync(http, clinic.Id, "Katherine Johnson");
        await using (var phone = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 360, Height = 740 }, IsMobile = true, HasTouch = true, DeviceScaleFactor = 2 }))
        {
            var page = await phone.NewPageAsync();
            await page.GotoAsync(baseUrl + ConsoleRoutes.SignIn);
            await ShotAsync(page, artifacts, "sign-in", 360);
            await SignInAsync(page, admin.Email);
            await ShotAllAsync(page, baseUrl, artifacts, 360, clinic, phonePatient);
        }

        // --- another clinic's admin sees none of it, by id or by URL -----------------------------------
        await using (var foreign = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } }))
        {
            var page = await foreign.NewPageAsync();
            await page.GotoAsync(baseUrl + ConsoleRoutes.SignIn);
            await SignInAsync(page, stranger.Email);
            await Assertions.Expect(page.Locator("section[aria-labelledby=calls-h]")).ToContainTextAsync("No calls on this day.");
            var r = await page.GotoAsync($"{baseUrl}{ConsoleRoutes.Patients}/{phonePatient}");
            Assert.Equal(404, r!.Status);
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Patient not found");
            await page.GotoAsync(baseUrl + ConsoleRoutes.Queue);
            await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Nothing waiting");
            await page.GotoAsync($"{baseUrl}{ConsoleRoutes.Bookings}?day={day:yyyy-MM-dd}");
            Assert.DoesNotContain("Katherine", await page.ContentAsync());
            // Posting to the first clinic's items by id, with a valid form of its own, reaches nothing.
            var csrf = await page.Locator("input[name=csrf]").First.GetAttributeAsync("value");
            foreach (var (kind, id, action) in new[] { ("callbacks", callbackId, "no_answer"), ("inbox", replyId, "handled"), ("gaps", gapId, "answer") })
            {
                var form = foreign.APIRequest.CreateFormData();
                form.Set("csrf", csrf!);
                form.Set("action", action);
                form.Set("answer", "Hijacked.");
                var r2 = await foreign.APIRequest.PostAsync($"{baseUrl}{ConsoleRoutes.Queue}/{kind}/{id}", new() { Form = form, MaxRedirects = 0 });
                Assert.Equal(404, r2.Status);
            }
            Assert.Equal("done|1", await TestApp.ScalarAsync<string>("select status || '|' || attempts from callbacks where id = $1", callbackId));
            Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from knowledge_documents where clinic_id = $1", clinic.Id));
        }

        // --- lockout, then two-step sign-in ------------------------------------------------------------
        var receptionist = await ConsoleClient.StaffAsync(clinic.Id, "receptionist");
        var doctor = await ConsoleClient.StaffAsync(clinic.Id, "doctor");
        var accounts = TestApp.Factory.Services.GetRequiredService<StaffAccounts>();
        var totp = await accounts.BeginTotpAsync(clinic.Id, doctor.Id, CancellationToken.None);
        var step = Totp.StepAt(DateTimeOffset.UtcNow);
        Assert.True(await accounts.ConfirmTotpAsync(clinic.Id, doctor.Id, Totp.Code(totp, step), CancellationToken.None));
        await using (var guess = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 360, Height = 740 } }))
        {
            var page = await guess.NewPageAsync();
            await page.GotoAsync(baseUrl + ConsoleRoutes.SignIn);
            for (var i = 0; i < 5; i++) await SignInAsync(page, receptionist.Email, "wrong password " + i);
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Account locked");
            await ShotAsync(page, artifacts, "locked", 360);
            await page.GotoAsync(baseUrl + ConsoleRoutes.SignIn);
            await SignInAsync(page, receptionist.Email);
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Account locked");

            await page.GotoAsync(baseUrl + ConsoleRoutes.SignIn);
            await SignInAsync(page, doctor.Email);
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Enter your code");
            await ShotAsync(page, artifacts, "code", 360);
            await page.GetByLabel("Code").FillAsync(Totp.Code(totp, step + 1));
            await page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Today");
        }
    }

    static async Task<(string Text, bool Error)> VapiToolAsync(HttpClient client, string secret, string callId, string phone, string tool, object arguments)
    {
        var r = await ConsoleClient.PostVapiAsync(client, secret, System.Text.Json.JsonSerializer.Serialize(
            VapiPayloads.ToolCall(callId, phone, "tc_" + Guid.NewGuid().ToString("N"), tool, arguments)));
        Assert.True(r.IsSuccessStatusCode, $"{tool}: {(int)r.StatusCode}");
        return VapiPayloads.Result(await TestClinic.Json(r));
    }

    static async Task SignInAsync(IPage page, string email, string password = ConsoleClient.Password)
    {
        await page.GetByLabel("Email").FillAsync(email);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
    }

    async Task ShotAllAsync(IPage page, string baseUrl, string artifacts, int width, TestClinic clinic, Guid patientId)
    {
        var day = DateTimeOffset.UtcNow.Date.AddDays(1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        (string Name, string Path)[] pages =
        [
            ("today", ConsoleRoutes.Today), ("queue", ConsoleRoutes.Queue), ("patients", ConsoleRoutes.Patients),
            ("patient", $"{ConsoleRoutes.Patients}/{patientId}"), ("bookings-day", $"{ConsoleRoutes.Bookings}?day={day}"),
            ("bookings-week", $"{ConsoleRoutes.Bookings}?day={day}&view=week"), ("reports", ConsoleRoutes.Reports),
            ("settings", ConsoleRoutes.Settings), ("staff", ConsoleRoutes.Staff), ("audit", ConsoleRoutes.Audit), ("account", ConsoleRoutes.Account),
        ];
        foreach (var (name, path) in pages)
        {
            var r = await page.GotoAsync(baseUrl + path);
            Assert.True(r!.Status == 200, $"{path}: {r.Status}");
            await BookingPageBrowserTests.CheckAccessibilityAsync(page);
            await ShotAsync(page, artifacts, name, width);
        }
        Assert.NotNull(clinic);
    }

    async Task ShotAsync(IPage page, string artifacts, string name, int width)
    {
        var path = Path.Combine(artifacts, $"console-{name}-{width}.png");
        await page.ScreenshotAsync(new() { Path = path, FullPage = true });
        output.WriteLine("Screenshot: " + path);
    }

    static async Task<Guid> AddPatientAsync(HttpClient api, Guid clinicId, string name)
    {
        var r = await api.PostAsJsonAsync($"/api/clinics/{clinicId}/patients", new { name, phone = "+44790" + Random.Shared.Next(1000000, 9999999).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        return (await TestClinic.Json(r)).GetProperty("id").GetGuid();
    }
}
