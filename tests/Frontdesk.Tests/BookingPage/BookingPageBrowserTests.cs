using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Frontdesk.Platform;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Playwright;
using Xunit.Abstractions;

using Frontdesk.Bench;

namespace Frontdesk.Tests.BookingPage;

/// <summary>
/// The whole patient journey in a real browser: hang-up follow-up → SMS at the fake Twilio → its
/// link opened in headless Chromium on a 360 px phone → pick a time → confirm → booking in the
/// database and a confirmation SMS. The app runs on real Kestrel (cookies, redirects, CSP and all
/// are what a phone would get), on the test cluster, with Twilio pointed at the shared fake.
/// </summary>
[Collection("twilio")]
public partial class BookingPageBrowserTests(TwilioFixture fx, ITestOutputHelper output)
{
    [Fact]
    public async Task Patient_books_from_the_SMS_link_in_Chromium_on_a_360px_phone()
    {
        HeadlessChromium.AssertInstalled();

        await using var app = await KestrelApp.StartAsync(fx.Fake);
        var baseUrl = app.Urls.Single();
        var clinic = await BookingPageTests.ClinicAsync(slots: 8);
        await TestApp.ExecAsync("update clinics set name = 'Harley Street Aesthetics' where id = $1", clinic.Id);
        var phone = TwilioFixture.NewPhone();
        using var api = new HttpClient { BaseAddress = new Uri(baseUrl) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
            TestApp.Token(RequestClaims.ForClinic(clinic.Id, "user-" + Guid.NewGuid().ToString("N"), "admin")));
        var link = await BookingPageTests.FollowUpAsync(api, clinic, phone);

        var sms = await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(60));
        var url = BookingLink().Match(sms.Body).Value;
        Assert.Equal($"{baseUrl}/book/{link.Token}", url);

        var artifacts = ArtifactsDir();
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

            var response = await page.GotoAsync(url);
            Assert.Equal(200, response!.Status);
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Book your Rhinoplasty consultation");
            var slotsShot = Path.Combine(artifacts, "booking-page-slots-360.png");
            await page.ScreenshotAsync(new() { Path = slotsShot, FullPage = true });
            output.WriteLine("Screenshot of the slot list: " + slotsShot);

            await CheckAccessibilityAsync(page);

            // Keyboard: the first tab stop is the radio group, the next the confirm button, both with a visible focus ring.
            await page.Keyboard.PressAsync("Tab");
            Assert.Equal("radio", await page.EvaluateAsync<string>("document.activeElement.type"));
            Assert.NotEqual("none", await page.EvaluateAsync<string>("getComputedStyle(document.activeElement).outlineStyle"));
            await page.Keyboard.PressAsync("Tab");
            Assert.Equal("Confirm booking", await page.EvaluateAsync<string>("document.activeElement.textContent"));

            // Two taps: a time, then confirm.
            var radios = page.GetByRole(AriaRole.Radio);
            Assert.Equal(8, await radios.CountAsync());
            var chosen = await radios.Nth(2).GetAttributeAsync("value");
            await radios.Nth(2).TapAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Confirm booking" }).TapAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("You're booked");
            Assert.Equal(url, page.Url);
            await Assertions.Expect(page.Locator("dl")).ToContainTextAsync(BookingPageTests.Address);
            var confirmationShot = Path.Combine(artifacts, "booking-page-confirmation-360.png");
            await page.ScreenshotAsync(new() { Path = confirmationShot, FullPage = true });
            output.WriteLine("Screenshot of the confirmation: " + confirmationShot);
            await CheckAccessibilityAsync(page);

            var bookingId = await TestApp.ScalarAsync<Guid>("select converted_booking_id from leads where id = $1", link.LeadId);
            Assert.Equal($"sms_link|confirmed|{chosen}", await TestApp.ScalarAsync<string>(
                "select source || '|' || status || '|' || slot_id from bookings where id = $1", bookingId));
            Assert.Equal(phone, await TestApp.ScalarAsync<string>(
                "select p.phone from bookings b join patients p on p.id = b.patient_id where b.id = $1", bookingId));

            var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (fx.Fake.For(phone).Count < 2 && DateTime.UtcNow < until) await Task.Delay(25);
            var confirmation = Assert.Single(fx.Fake.For(phone), m => m.Sid != sms.Sid);
            Assert.Contains("is booked for", confirmation.Body);
            Assert.Contains(baseUrl + "/book/cancel/", confirmation.Body);
        }
        finally
        {
            userData.Delete(recursive: true);
        }
    }

    /// <summary>A few explicit checks in place of axe-core (not available offline): lang, one h1,
    /// every control named, radios grouped under a legend, text contrast ≥ 4.5:1.</summary>
    internal static async Task CheckAccessibilityAsync(IPage page)
    {
        var problems = await page.EvaluateAsync<string[]>("""
            () => {
              const problems = [];
              if (!document.documentElement.lang) problems.push('html has no lang');
              const h1s = document.querySelectorAll('h1').length;
              if (h1s !== 1) problems.push(`${h1s} h1 elements`);
              if (!document.title) problems.push('no title');
              for (const el of document.querySelectorAll('input:not([type=hidden]), button, select, textarea')) {
                const name = (el.labels && [...el.labels].map(l => l.textContent.trim()).join(' ')) || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' ? el.textContent.trim() : '');
                if (!name) problems.push(`${el.tagName} ${el.name || ''} has no accessible name`);
              }
              for (const r of document.querySelectorAll('input[type=radio]')) {
                const fs = r.closest('fieldset');
                if (!fs || !fs.querySelector(':scope > legend')?.textContent.trim()) problems.push('radio outside a fieldset with a legend');
              }
              const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
              const lum = ([r, g, b]) => { const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
              const background = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length === 3 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
              for (const el of document.querySelectorAll('h1, p, legend, b, small, button, a, dt, dd, label span')) {
                if (!el.textContent.trim()) continue;
                const fg = lum(rgb(getComputedStyle(el).color)), bg = lum(background(el));
                const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
                if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} for ${el.tagName} "${el.textContent.trim().slice(0, 30)}"`);
              }
              if (document.documentElement.scrollWidth > window.innerWidth) problems.push(`horizontal scroll: ${document.documentElement.scrollWidth}px wide`);
              return problems;
            }
            """);
        Assert.True(problems.Length == 0, "Accessibility: " + string.Join("; ", problems));
    }

    /// <summary>TestResults/artifacts under the repository root (ignored by git; .ci/run starts it empty).</summary>
    internal static string ArtifactsDir()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Frontdesk.slnx"))) dir = dir.Parent;
        var path = Path.Combine(dir?.FullName ?? AppContext.BaseDirectory, "TestResults", "artifacts");
        Directory.CreateDirectory(path);
        return path;
    }

    [GeneratedRegex(@"https?://\S+/book/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")]
    private static partial Regex BookingLink();
}
