using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;

using Frontdesk.Bench;

namespace Frontdesk.Tests.Calendar;

/// <summary>Calendar tests share one fake Google and run one at a time: each starts its own app with
/// the calendar worker on (a worker serves every clinic, so two at once would race for jobs).</summary>
[CollectionDefinition(Name)]
public sealed class CalendarTestGroup : ICollectionFixture<GoogleFakeFixture>
{
    public const string Name = "Google calendar";
}

public sealed class GoogleFakeFixture : IAsyncLifetime
{
    public GoogleFake Fake { get; private set; } = null!;
    public async Task InitializeAsync() => Fake = await GoogleFake.StartAsync();
    public async Task DisposeAsync() => await Fake.DisposeAsync();
}

public static class CalendarTestHost
{
    /// <summary>The app under test pointed at the fake: short timeout and quick retries so failures
    /// and recoveries show within seconds.</summary>
    public static WebApplicationFactory<Program> Start(GoogleFake fake) =>
        TestApp.Factory.WithWebHostBuilder(b =>
        {
            b.UseSetting("GOOGLE_APPLICATION_CREDENTIALS", fake.CredentialsPath);
            b.UseSetting("FRONTDESK_GOOGLE_API_BASE_URL", fake.BaseUrl);
            b.UseSetting("FRONTDESK_GOOGLE_TIMEOUT_SECONDS", "1");
            b.UseSetting("FRONTDESK_CALENDAR_POLL_SECONDS", "0.2");
            b.UseSetting("FRONTDESK_CALENDAR_RETRY_BASE_SECONDS", "0.1");
            b.UseSetting("FRONTDESK_CALENDAR_RETRY_MAX_SECONDS", "0.5");
            b.UseSetting("FRONTDESK_CALENDAR_SYNC_SECONDS", "3600");
        });

    public static HttpClient As(this WebApplicationFactory<Program> app, Guid clinicId, string appRole = "admin")
    {
        var c = app.CreateClient();
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
            TestApp.Token(RequestClaims.ForClinic(clinicId, $"user-{appRole}-{Guid.NewGuid():N}", appRole)));
        return c;
    }

    public static string NewCalendarId() => $"surgeon-{Guid.NewGuid():N}@group.calendar.google.com";

    /// <summary>Links as a clinic does (issue 14): the calendar, known to Google, carries the clinic's
    /// verification code in its description.</summary>
    public static async Task LinkAsync(GoogleFake fake, HttpClient admin, TestClinic c, string calendarId)
    {
        fake.AddCalendar(calendarId, "Diary of Dr Test · " + await VerificationCodeAsync(admin, c.Id));
        var r = await admin.PutAsJsonAsync($"/api/clinics/{c.Id}/practitioners/{c.PractitionerId}/calendar", new { calendarId });
        await TestClinic.Json(r);
    }

    public static async Task<string> VerificationCodeAsync(HttpClient admin, Guid clinicId) =>
        (await TestClinic.Json(await admin.GetAsync($"/api/clinics/{clinicId}/calendar/verification"))).GetProperty("code").GetString()!;

    public static async Task<Guid> ClaimAsync(HttpClient client, TestClinic c, int slot, int patient = 0)
    {
        var r = await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = c.SlotIds[slot], patientId = c.PatientIds[patient], clinicId = c.Id });
        return (await TestClinic.Json(r)).GetProperty("bookingId").GetGuid();
    }

    public static async Task<JsonElement> BookingCalendarAsync(HttpClient client, Guid clinicId, Guid bookingId) =>
        await TestClinic.Json(await client.GetAsync($"/api/bookings/{clinicId}/{bookingId}/calendar"));

    /// <summary>Polls the booking's calendar view until its status is <paramref name="status"/>.</summary>
    public static async Task<JsonElement> WaitForStatusAsync(HttpClient client, Guid clinicId, Guid bookingId, string status, int seconds = 15)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        JsonElement view;
        do
        {
            view = await BookingCalendarAsync(client, clinicId, bookingId);
            if (view.GetProperty("status").GetString() == status) return view;
            await Task.Delay(100);
        } while (DateTime.UtcNow < until);
        throw new Xunit.Sdk.XunitException($"booking calendar status stayed {view}");
    }

    /// <summary>Waits for the worker's first sync after linking (state leaves "pending").</summary>
    public static async Task WaitForFirstSyncAsync(HttpClient admin, TestClinic c)
    {
        var until = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < until)
        {
            var s = await TestClinic.Json(await admin.GetAsync($"/api/clinics/{c.Id}/practitioners/{c.PractitionerId}/calendar"));
            if (s.GetProperty("state").GetString() != "pending") return;
            await Task.Delay(100);
        }
        throw new Xunit.Sdk.XunitException("the first sync did not happen");
    }

    public static async Task<JsonElement> SyncAsync(HttpClient admin, TestClinic c) =>
        await TestClinic.Json(await admin.PostAsync($"/api/clinics/{c.Id}/practitioners/{c.PractitionerId}/calendar/sync", null));

    public static async Task<Dictionary<Guid, bool>> AvailabilityAsync(HttpClient client, TestClinic c)
    {
        var slots = await TestClinic.Json(await client.GetAsync($"/api/clinics/{c.Id}/slots?from={Uri.EscapeDataString(DateTimeOffset.UtcNow.ToString("O"))}&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(30).ToString("O"))}"));
        return slots.EnumerateArray().ToDictionary(s => s.GetProperty("id").GetGuid(), s => s.GetProperty("available").GetBoolean());
    }

    public static async Task<(DateTimeOffset Start, DateTimeOffset End)> SlotTimesAsync(Guid slotId)
    {
        await using var conn = await TestApp.AdminConnectionAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("select starts_at, ends_at from calendar_slots where id = $1", conn);
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = slotId });
        await using var r = await cmd.ExecuteReaderAsync();
        await r.ReadAsync();
        return (r.GetFieldValue<DateTimeOffset>(0), r.GetFieldValue<DateTimeOffset>(1));
    }
}
