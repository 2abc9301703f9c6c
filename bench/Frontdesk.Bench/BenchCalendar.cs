using System.Diagnostics;
using System.Net.Http.Json;
using Frontdesk.Platform;


namespace Frontdesk.Bench;

/// <summary>Issue 7's benchmark, through the loopback Google: booking-to-event latency (claim sent
/// → event stored by the fake, via trigger, NOTIFY, worker, token and events.insert) and one full
/// sync of a calendar holding 5,000 events (events.list pages + mirror + freeBusy + busy flags).</summary>
public sealed class BenchCalendar : IBenchCommand
{
    public string Name => "calendar";
    public string Summary => "booking-to-event latency through the fake Google (p50/p99) and a full sync of 5,000 events";

    public async Task<int> RunAsync(string[] args)
    {
        var bookings = args.SkipWhile(a => a != "--bookings").Skip(1).Select(int.Parse).FirstOrDefault(300);
        var events = args.SkipWhile(a => a != "--events").Skip(1).Select(int.Parse).FirstOrDefault(5000);
        await using var google = await GoogleFake.StartAsync();
        await using var host = await BenchHost.StartAsync(new Dictionary<string, string?>
        {
            ["GOOGLE_APPLICATION_CREDENTIALS"] = google.CredentialsPath,
            ["FRONTDESK_GOOGLE_API_BASE_URL"] = google.BaseUrl,
            ["FRONTDESK_CALENDAR_POLL_SECONDS"] = "5", // NOTIFY wakes the worker; polling is only the fallback
        });
        var (clinic, practitioner, slots, patients) = await host.SeedClinicAsync(slots: bookings, patients: 50);
        using var admin = host.Client(BenchHost.Token(RequestClaims.ForClinic(clinic, "bench-admin", "admin")), maxConnections: 16);
        var cal = $"bench-{Guid.NewGuid():N}@group.calendar.google.com";
        // Linking needs the clinic's verification code in the calendar's description (issue 14).
        var code = (await BenchHost.Json(await admin.GetAsync($"/api/clinics/{clinic}/calendar/verification"))).GetProperty("code").GetString();
        google.AddCalendar(cal, code);
        await BenchHost.Json(await admin.PutAsJsonAsync($"/api/clinics/{clinic}/practitioners/{practitioner}/calendar", new { calendarId = cal }));

        // Booking → event, 4 concurrent bookers.
        var samples = new Samples();
        var sw = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, bookings), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
        {
            var sent = Stopwatch.GetTimestamp();
            var body = await BenchHost.Json(await admin.PostAsJsonAsync("/functions/v1/claim_slot_atomic",
                new { slotId = slots[i], patientId = patients[i % patients.Count], clinicId = clinic }, ct));
            var id = body.GetProperty("bookingId").GetGuid().ToString("N") + "0";
            var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 30;
            GoogleFake.Ev? ev;
            while ((ev = google.Event(cal, id)) is null && Stopwatch.GetTimestamp() < deadline) await Task.Delay(1, ct);
            if (ev is null) throw new InvalidOperationException("an event never arrived");
            samples.Add(Stopwatch.GetElapsedTime(sent, ev.CreatedTimestamp).TotalMilliseconds);
        });
        Console.WriteLine($"booking → Google event ({bookings} bookings, 4 concurrent): {samples.Summary()} · {bookings / sw.Elapsed.TotalSeconds:F0} bookings/s end to end");

        // Full sync of a calendar with 5,000 events (a second practitioner with 30-minute slots over the same span).
        using var svc = host.Client(BenchHost.Token(new RequestClaims(RequestClaims.ServiceRole, null, "bench", null)));
        var second = (await BenchHost.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinic}/practitioners", new { name = "Dr Busy" }))).GetProperty("id").GetGuid();
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(2), TimeSpan.Zero);
        for (var made = 0; made < 2000; made += 1000)
            await BenchHost.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinic}/slots", new
            {
                practitionerId = second, startsAt = start.AddMinutes(30 * made), endsAt = start.AddMinutes(30 * (made + 1000)), durationMinutes = 30,
            }));
        var busyCal = $"busy-{Guid.NewGuid():N}@group.calendar.google.com";
        google.AddCalendar(busyCal, code);
        // Every other half hour blocked, 5,000 events from day 2 on.
        google.AddEvents(busyCal, Enumerable.Range(0, events).Select(i => (start.AddMinutes(60 * i), start.AddMinutes(60 * i + 30))));
        using (var r = await admin.PutAsJsonAsync($"/api/clinics/{clinic}/practitioners/{second}/calendar", new { calendarId = busyCal })) r.EnsureSuccessStatusCode();
        var t = Stopwatch.GetTimestamp();
        var status = await BenchHost.Json(await admin.PostAsync($"/api/clinics/{clinic}/practitioners/{second}/calendar/sync", null));
        var full = Stopwatch.GetElapsedTime(t);
        await using var conn = new Npgsql.NpgsqlConnection(host.AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("select count(*) from calendar_events where practitioner_id = $1", conn);
        cmd.Parameters.AddWithValue(second);
        var mirrored = (long)(await cmd.ExecuteScalarAsync())!;
        Console.WriteLine($"full sync of {events} events: {full.TotalMilliseconds:F0} ms (state {status.GetProperty("state").GetString()}, {mirrored} events mirrored, {status.GetProperty("busySlots").GetInt64()} slots busy)");

        // An incremental sync right after (nothing changed): the steady-state cost.
        t = Stopwatch.GetTimestamp();
        await BenchHost.Json(await admin.PostAsync($"/api/clinics/{clinic}/practitioners/{second}/calendar/sync", null));
        Console.WriteLine($"incremental sync, no changes: {Stopwatch.GetElapsedTime(t).TotalMilliseconds:F0} ms");
        return status.GetProperty("state").GetString() == "ok" && mirrored == events ? 0 : 1;
    }
}
