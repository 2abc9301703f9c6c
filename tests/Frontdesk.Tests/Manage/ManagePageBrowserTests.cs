using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Frontdesk.Bench;
using Frontdesk.Platform;
using Frontdesk.Reminders;
using Frontdesk.Tests.BookingPage;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Frontdesk.Tests.Manage.PatientScenario;
using static Frontdesk.Tests.Reminders.ReminderHelpers;

namespace Frontdesk.Tests.Manage;

/// <summary>
/// Issue 18's "done when": the manage page's reschedule and cancel in headless Chromium, starting from
/// the reminder SMS. A due reminder goes through the real reminder path (the scanner queues it, the
/// outbox sends it to the fake Twilio); the manage link in its body is opened on a 360 px phone on real
/// Kestrel; the patient moves the booking, the move re-arms the reminders, the next reminder's link
/// cancels it. The database, the audit trail, the stats and the confirmation texts are checked after each step.
/// </summary>
[Collection("twilio")]
public partial class ManagePageBrowserTests(TwilioFixture fx, ITestOutputHelper output)
{
    static readonly TimeSpan Day = TimeSpan.FromDays(1);

    [Fact]
    public async Task Patient_moves_then_cancels_their_booking_in_Chromium_from_the_reminder_SMS()
    {
        HeadlessChromium.AssertInstalled();
        await using var app = await KestrelApp.StartAsync(fx.Fake);
        var baseUrl = app.Urls.Single();
        var scanner = app.Services.GetRequiredService<ReminderScanner>();

        var clinic = await BookingPageTests.ClinicAsync(slots: 6);
        await TestApp.ExecAsync("update clinics set name = 'Harley Street Aesthetics' where id = $1", clinic.Id);
        var (patient, phone) = await PatientAsync(clinic, "Grace Hopper");
        var booking = await BookAsync(clinic, patient, clinic.SlotIds[1]);
        var target = clinic.SlotIds[4];

        // The day-before reminder falls due; the scanner queues it and the outbox texts it.
        Assert.Equal(1, await DueNowAsync(booking, Day));
        await scanner.RunOnceAsync(default);
        var reminder = await SmsAsync(fx.Fake, phone, 1);
        Assert.Contains("a reminder of your appointment at Harley Street Aesthetics", reminder.Body);
        Assert.Contains("Reply C to confirm or R to reschedule", reminder.Body);
        // The link's host is the public base URL of the instance that queued it; its path opens this server.
        var firstLink = baseUrl + ManagePath(reminder.Body);

        var artifacts = BookingPageBrowserTests.ArtifactsDir();
        var userData = Directory.CreateTempSubdirectory("frontdesk-chromium-");
        try
        {
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(userData.FullName, new()
            {
                ExecutablePath = HeadlessChromium.Path, Args = HeadlessChromium.Args, Headless = true,
                ViewportSize = new() { Width = 360, Height = 740 }, IsMobile = true, HasTouch = true, DeviceScaleFactor = 2,
            });
            var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();

            // --- reschedule -----------------------------------------------------------------------------
            var response = await page.GotoAsync(firstLink);
            Assert.Equal(200, response!.Status);
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Your appointment");
            await Assertions.Expect(page.Locator("dl")).ToContainTextAsync("Dr Test");
            await Assertions.Expect(page.Locator("dl")).ToContainTextAsync(BookingPageTests.Address);
            await BookingPageBrowserTests.CheckAccessibilityAsync(page);
            await ShotAsync(page, artifacts, "manage-page-360.png");

            var radios = page.GetByRole(AriaRole.Radio);
            Assert.Equal(clinic.SlotIds.Count - 1, await radios.CountAsync());
            await page.Locator($"input[type=radio][value='{target}']").TapAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Move my appointment" }).TapAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("has been moved");
            Assert.Contains("/manage/", page.Url);
            Assert.EndsWith("?moved=1", page.Url);
            await BookingPageBrowserTests.CheckAccessibilityAsync(page);
            await ShotAsync(page, artifacts, "manage-page-moved-360.png");

            Assert.Equal($"confirmed|{target}", await TestApp.ScalarAsync<string>("select status || '|' || slot_id from bookings where id = $1", booking));
            Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", clinic.SlotIds[1]));
            Assert.Equal(1L, await TestApp.ScalarAsync<long>(
                "select count(*) from audit_trail where clinic_id = $1 and action = 'moved' and entity_id = $2 and actor = 'manage_link'",
                clinic.Id, booking.ToString()));
            var moved = await SmsAsync(fx.Fake, phone, 2);
            var (newStart, _) = await Calendar.CalendarTestHost.SlotTimesAsync(target);
            Assert.Contains($"your appointment is now {Spoken(newStart)} with Dr Test", moved.Body);
            Assert.Contains("/manage/", moved.Body);
            // The move re-armed the reminders for the new time.
            Assert.Contains(await ArmedAsync(booking), r => r.Offset == "P1D" && r.StartsAt == newStart);

            // --- cancel, from the next reminder ---------------------------------------------------------
            Assert.Equal(1, await DueNowAsync(booking, Day));
            await scanner.RunOnceAsync(default);
            var second = await SmsAsync(fx.Fake, phone, 3);
            Assert.Contains(Spoken(newStart), second.Body);
            var secondLink = baseUrl + ManagePath(second.Body);
            Assert.NotEqual(firstLink, secondLink);   // a link lives until its appointment starts: the new time, a new link

            Assert.Equal(200, (await page.GotoAsync(secondLink))!.Status);
            await page.GetByRole(AriaRole.Link, new() { Name = "Cancel this appointment" }).TapAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Cancel your booking?");
            Assert.Equal("confirmed", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", booking));   // asking changes nothing
            await BookingPageBrowserTests.CheckAccessibilityAsync(page);
            await page.GetByRole(AriaRole.Button, new() { Name = "Yes, cancel my booking" }).TapAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Your booking is cancelled");
            await ShotAsync(page, artifacts, "manage-page-cancelled-360.png");

            Assert.Equal("cancelled", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", booking));
            Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", target));
            Assert.Equal(1L, await TestApp.ScalarAsync<long>(
                "select count(*) from audit_trail where clinic_id = $1 and action = 'cancelled' and entity_id = $2 and actor = 'manage_link'",
                clinic.Id, booking.ToString()));
            Assert.Empty(await ArmedAsync(booking));
            var cancelled = await SmsAsync(fx.Fake, phone, 4);
            Assert.Contains($"your appointment on {Spoken(newStart)} with Dr Test is cancelled", cancelled.Body);
            Assert.Contains(BookingPageTests.ClinicPhone, cancelled.Body);

            // The first reminder's link is dead now, and the clinic's stats count one booking changed through the manage link.
            var dead = await page.GotoAsync(firstLink);
            Assert.True(dead!.Status is >= 400 and < 500, $"the old link answered {dead.Status}");
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).Not.ToHaveTextAsync("Your appointment");
            using var staff = new HttpClient { BaseAddress = new Uri(baseUrl) };
            staff.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
                TestApp.Token(RequestClaims.ForClinic(clinic.Id, "user-" + Guid.NewGuid().ToString("N"), "receptionist")));
            var stats = await TestClinic.Json(await staff.GetAsync($"/api/clinics/{clinic.Id}/stats"));
            Assert.Equal(1, stats.GetProperty("bookings").GetProperty("manageLink").GetInt32());
        }
        finally
        {
            userData.Delete(recursive: true);
        }
    }

    static string ManagePath(string smsBody)
    {
        var m = ManageLink().Match(smsBody);
        Assert.True(m.Success, "no manage link in: " + smsBody);
        return m.Value;
    }

    async Task ShotAsync(IPage page, string artifacts, string name)
    {
        var path = Path.Combine(artifacts, name);
        await page.ScreenshotAsync(new() { Path = path, FullPage = true });
        output.WriteLine("Screenshot: " + path);
    }

    [GeneratedRegex(@"/manage/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")]
    private static partial Regex ManageLink();
}
