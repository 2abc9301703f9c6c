using System.Net;
using System.Net.Http.Json;
using System.Text;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using static Frontdesk.Tests.Reminders.ReminderHelpers;

namespace Frontdesk.Tests.Reminders;

public class AttendanceTests
{
    static async Task<(TestClinic Clinic, Guid Booking)> PastBookingAsync()
    {
        var (clinic, patient, _) = await ClinicAsync(firstSlot: DateTimeOffset.UtcNow.AddDays(-1), slots: 2);
        return (clinic, await BookAsync(clinic.Id, clinic.SlotIds[0], patient));
    }

    static Task<long> AuditRowsAsync(Guid clinicId) =>
        TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'attendance'", clinicId);

    [Fact]
    public async Task Staff_mark_a_started_appointment_as_a_no_show_and_can_correct_it_each_change_audited()
    {
        var (clinic, booking) = await PastBookingAsync();
        using var receptionist = TestApp.As(clinic.Id, "receptionist");
        var url = $"/api/bookings/{clinic.Id}/{booking}/attendance";

        var noShow = await TestClinic.Json(await receptionist.PutAsJsonAsync(url, new { attended = false }));
        Assert.Equal("did_not_arrive", noShow.GetProperty("attendance").GetString());
        Assert.Equal("confirmed", noShow.GetProperty("status").GetString());   // the booking itself stands
        Assert.Equal("did_not_arrive", await TestApp.ScalarAsync<string>(
            "select detail ->> 'attendance' from audit_trail where clinic_id = $1 and action = 'attendance' and entity_id = $2", clinic.Id, booking.ToString()));

        using var doctor = TestApp.As(clinic.Id, "doctor");
        var attended = await TestClinic.Json(await doctor.PutAsJsonAsync(url, new { attended = true }));
        Assert.Equal("attended", attended.GetProperty("attendance").GetString());
        Assert.Equal(2L, await AuditRowsAsync(clinic.Id));
        await doctor.PutAsJsonAsync(url, new { attended = true });
        Assert.Equal(2L, await AuditRowsAsync(clinic.Id));   // no change, no row
        Assert.NotNull(await TestApp.ScalarAsync<DateTime?>("select attendance_at from bookings where id = $1", booking));
    }

    [Fact]
    public async Task Attendance_of_an_appointment_that_has_not_started_or_was_cancelled_is_a_409_and_unknown_bookings_404()
    {
        var (clinic, patient, _) = await ClinicAsync();
        var future = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        var (pastClinic, past) = await PastBookingAsync();
        using var admin = TestApp.As(clinic.Id);
        using var pastAdmin = TestApp.As(pastClinic.Id);
        Assert.Equal(HttpStatusCode.NoContent, (await pastAdmin.DeleteAsync($"/api/bookings/{pastClinic.Id}/{past}")).StatusCode);

        foreach (var (client, clinicId, bookingId, status, type) in new[]
                 {
                     (admin, clinic.Id, future, HttpStatusCode.Conflict, Problems.Conflict),
                     (pastAdmin, pastClinic.Id, past, HttpStatusCode.Conflict, Problems.Conflict),
                     (admin, clinic.Id, Guid.NewGuid(), HttpStatusCode.NotFound, Problems.NotFound),
                 })
        {
            var r = await client.PutAsJsonAsync($"/api/bookings/{clinicId}/{bookingId}/attendance", new { attended = false });
            Assert.Equal(status, r.StatusCode);
            Assert.Equal(type, (await ReminderSettingsTests.ProblemAsync(r)).GetProperty("type").GetString());
        }
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where id = any($1) and attendance is not null", new[] { future, past }));
        Assert.Equal(0L, await AuditRowsAsync(clinic.Id) + await AuditRowsAsync(pastClinic.Id));
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"attended": "yes"}""")]
    [InlineData("""{"attended": null}""")]
    [InlineData("""{"attended": 0}""")]
    [InlineData("not json")]
    public async Task A_bad_attendance_body_is_a_400_problem_and_stores_nothing(string json)
    {
        var (clinic, booking) = await PastBookingAsync();
        using var admin = TestApp.As(clinic.Id);
        var r = await admin.PutAsync($"/api/bookings/{clinic.Id}/{booking}/attendance", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.StartsWith("https://frontdesk.dev/problems/", (await ReminderSettingsTests.ProblemAsync(r)).GetProperty("type").GetString());
        Assert.Null(await TestApp.ScalarAsync<string>("select attendance from bookings where id = $1", booking));
    }

    [Fact]
    public async Task A_token_without_a_staff_role_cannot_mark_attendance()
    {
        var (clinic, booking) = await PastBookingAsync();
        using var nobody = TestApp.As(clinic.Id, "janitor");
        var r = await nobody.PutAsJsonAsync($"/api/bookings/{clinic.Id}/{booking}/attendance", new { attended = false });
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        Assert.Null(await TestApp.ScalarAsync<string>("select attendance from bookings where id = $1", booking));
    }
}
