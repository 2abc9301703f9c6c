using System.Globalization;
using System.Net;
using Frontdesk.StaffConsole;
using Frontdesk.Tests.Infrastructure;
using static Frontdesk.Tests.Reminders.ReminderHelpers;

namespace Frontdesk.Tests.StaffConsole;

/// <summary>The diary's no-show mark (the attendance API's code and rules) and the reports' figures
/// (the stats API's numbers for the chosen range).</summary>
public class ConsoleAttendanceAndStatsTests
{
    [Fact]
    public async Task A_started_booking_is_marked_did_not_arrive_from_the_diary_corrected_and_counted_in_the_reports()
    {
        var start = DateTimeOffset.UtcNow.AddHours(-3);
        var (clinic, patient, _) = await ClinicAsync(firstSlot: start, slots: 12);
        var past = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        var future = await BookAsync(clinic.Id, clinic.SlotIds[11], patient);
        var london = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        var day = TimeZoneInfo.ConvertTime(start, london).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        // The bookings are made now: between midnight and 3 am that is the day after the appointment's.
        var today = TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, london).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var (client, _) = await ConsoleClient.SignedInAsync(clinic.Id, "doctor");
        using var _c = client;

        var diary = await client.GetAsync($"{ConsoleRoutes.Bookings}?day={day}");
        var mark = $"{ConsoleRoutes.Bookings}/{past}/attendance";
        Assert.NotNull(diary.Document.QuerySelector($"form[action='{mark}']"));
        // Not before the appointment has started.
        Assert.Null(diary.Document.QuerySelector($"form[action='{ConsoleRoutes.Bookings}/{future}/attendance']"));

        // Bad input is a 400 page, the API's refusal its own status, and nothing changes.
        var bad = await client.PostAsync(mark, ("attended", "maybe"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Contains("Say whether the patient arrived", bad.Text);
        var early = await client.PostAsync($"{ConsoleRoutes.Bookings}/{future}/attendance", ("attended", "false"));
        Assert.Equal(HttpStatusCode.Conflict, early.Status);
        Assert.Contains("has not started yet", early.Text);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"{ConsoleRoutes.Bookings}/{Guid.NewGuid()}/attendance", ("attended", "false"))).Status);
        Assert.Null(await TestApp.ScalarAsync<string>("select attendance from bookings where id = $1", past));

        var noShow = await client.PostAsync(mark, ("attended", "false"));
        Assert.Equal($"{ConsoleRoutes.Bookings}?day={day}&done=attendance", noShow.Location);
        Assert.Equal("did_not_arrive", await TestApp.ScalarAsync<string>("select attendance from bookings where id = $1", past));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'attendance' and entity_id = $2", clinic.Id, past.ToString()));
        var marked = await client.GetAsync(noShow.Location!);
        Assert.Contains("Attendance recorded.", marked.Text);
        var row = marked.Document.QuerySelector($"form[action='{mark}']")!.Closest("tr")!;
        Assert.Contains("Did not arrive", row.QuerySelector("td:nth-child(2)")!.TextContent);
        Assert.Equal("Mark arrived", row.QuerySelector($"form[action='{mark}'] button")!.TextContent);

        // Counted in the reports for the day, then uncounted once corrected.
        var reports = await client.GetAsync($"{ConsoleRoutes.Reports}?from={day}&to={today}");
        Assert.Equal("1", Fact(reports, "Did not arrive"));
        Assert.Equal("2", Fact(reports, "Booked by staff"));
        Assert.Equal(HttpStatusCode.Redirect, (await client.PostAsync(mark, ("attended", "true"))).Status);
        Assert.Equal("attended", await TestApp.ScalarAsync<string>("select attendance from bookings where id = $1", past));
        Assert.Equal("0", Fact(await client.GetAsync($"{ConsoleRoutes.Reports}?from={day}&to={today}"), "Did not arrive"));

        // Another clinic's staff cannot mark it.
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (stranger, _) = await ConsoleClient.SignedInAsync(other.Id, "admin");
        using var _s = stranger;
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync(mark, ("attended", "false"))).Status);
        Assert.Equal("attended", await TestApp.ScalarAsync<string>("select attendance from bookings where id = $1", past));
    }

    [Fact]
    public async Task Reports_show_the_stats_numbers_of_the_chosen_range_only()
    {
        var (clinic, patient, _) = await ClinicAsync(slots: 2);
        await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        var (client, _) = await ConsoleClient.SignedInAsync(clinic.Id, "receptionist");
        using var _c = client;
        var today = await client.GetAsync(ConsoleRoutes.Reports);
        Assert.NotNull(today.Document.QuerySelector("section[aria-labelledby=stats-h]"));
        Assert.Equal("1", Fact(today, "Booked by staff"));
        Assert.Equal("0", Fact(today, "Calls"));
        var before = await client.GetAsync(ConsoleRoutes.Reports + "?from=2025-01-01&to=2025-01-31");
        Assert.Equal("0", Fact(before, "Booked by staff"));
        Assert.Contains("1 Jan 2025 – 31 Jan 2025", before.Document.QuerySelector("section[aria-labelledby=stats-h]")!.TextContent);
    }

    /// <summary>The figure beside <paramref name="term"/> in the "In numbers" card.</summary>
    static string Fact(ConsoleClient.Page page, string term)
    {
        var dl = page.Document.QuerySelector("section[aria-labelledby=stats-h] dl")!;
        var dt = dl.QuerySelectorAll("dt").Single(d => d.TextContent == term);
        return dt.NextElementSibling!.TextContent.Split(' ')[0];
    }
}
