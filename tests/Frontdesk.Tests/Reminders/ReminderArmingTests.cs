using System.Net;
using System.Net.Http.Json;
using AngleSharp.Html.Parser;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using static Frontdesk.Tests.Reminders.ReminderHelpers;

namespace Frontdesk.Tests.Reminders;

/// <summary>Every live booking gets its reminders, whichever path made it (the arming is a trigger on
/// bookings); moves re-arm, cancellations and erasures remove; settings changes re-arm.</summary>
public class ReminderArmingTests
{
    static readonly TimeSpan Day = TimeSpan.FromDays(1), TwoHours = TimeSpan.FromHours(2);

    static void AssertDefaultReminders(IReadOnlyList<ReminderRow> armed, DateTimeOffset startsAt)
    {
        Assert.Equal(["P1D", "PT2H"], armed.Select(r => r.Offset));
        Assert.All(armed, r => Assert.Equal(startsAt, r.StartsAt));
        Assert.Equal(startsAt - Day, armed[0].SendAt);
        Assert.Equal(startsAt - TwoHours, armed[1].SendAt);
    }

    static Task<DateTimeOffset> StartsAtAsync(Guid bookingId) =>
        TestApp.ScalarAsync<DateTime>("select starts_at from bookings where id = $1", bookingId).ContinueWith(t => new DateTimeOffset(t.Result, TimeSpan.Zero));

    [Fact]
    public async Task A_booking_made_through_the_API_gets_a_reminder_a_day_and_two_hours_before()
    {
        var (clinic, patient, _) = await ClinicAsync();
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        AssertDefaultReminders(await ArmedAsync(booking), await StartsAtAsync(booking));
        Assert.Equal("api", await TestApp.ScalarAsync<string>("select source from bookings where id = $1", booking));
    }

    [Fact]
    public async Task Arming_one_booking_reads_that_booking_not_the_clinics_whole_diary()
    {
        // PL/pgSQL settles on a generic plan after a few calls; the old `(p_booking_id is null or id = p_booking_id)`
        // then read every booking and armed reminder of the clinic on each claim, move and cancel (issue 16:
        // raw claims into a clinic with 4,000 bookings ran at half the rate of claims into a fresh one).
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 1);
        // A diary the size of a real clinic's (3,000 future bookings, 6,000 armed reminders), written directly.
        await TestApp.ExecAsync("""
            with s as (
              insert into calendar_slots (clinic_id, practitioner_id, starts_at, ends_at, claimed_by, claimed_at)
              select $1, $2, t, t + interval '30 minutes', $3, now()
                from generate_series(date_trunc('hour', now()) + interval '3 days', date_trunc('hour', now()) + interval '3 days' + interval '30 minutes' * 2999,
                                     interval '30 minutes') t
              returning id, starts_at, ends_at)
            insert into bookings (clinic_id, slot_id, patient_id, practitioner_id, starts_at, ends_at)
            select $1, s.id, $3, $2, s.starts_at, s.ends_at from s
            """, clinic.Id, clinic.PractitionerId, clinic.PatientIds[0]);
        await TestApp.ExecAsync("analyze bookings, booking_reminders");
        var booking = await TestApp.ScalarAsync<Guid>("select id from bookings where clinic_id = $1 order by starts_at offset 1500 limit 1", clinic.Id);
        Assert.Equal(6000L, await TestApp.ScalarAsync<long>("select count(*) from booking_reminders where clinic_id = $1 and status = 'armed'", clinic.Id));

        await using var conn = await TestApp.AdminConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        async Task<long> ScalarAsync(string sql)
        {
            await using var cmd = new Npgsql.NpgsqlCommand(sql, conn, tx);
            cmd.Parameters.Add(new() { Value = clinic.Id });
            cmd.Parameters.Add(new() { Value = booking });
            return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
        }
        await ScalarAsync("select 0 from set_config('plan_cache_mode', 'force_generic_plan', true) where $1 is not null and $2 is not null");
        for (var i = 0; i < 5; i++)
            Assert.Equal(2L, await ScalarAsync("select reminders_arm($1, $2)"));
        // This transaction's own reads (pg_stat_xact_*): a few index probes per call, not the diary each time.
        var read = await ScalarAsync("""
            select sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)) from pg_stat_xact_user_tables
             where relname in ('bookings', 'booking_reminders') and $1 is not null and $2 is not null
            """);
        Assert.True(read <= 5 * 8, $"arming one booking five times read {read} rows of bookings and booking_reminders");
        await tx.RollbackAsync();
    }

    static async Task VoiceToolAsync(string secret, string phone, string tool, object arguments)
    {
        using var client = TestApp.Client(null);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/vapi/webhook")
        {
            Content = JsonContent.Create(Calls.VapiPayloads.ToolCall(Calls.VapiPayloads.NewCall(), phone, "call_" + Guid.NewGuid().ToString("N"), tool, arguments)),
        };
        request.Headers.Add("X-Vapi-Secret", secret);
        var answer = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.False(Calls.VapiPayloads.Result(await TestClinic.Json(answer)).Error);
    }

    [Fact]
    public async Task A_booking_made_by_the_voice_agent_gets_its_reminders_and_a_reschedule_by_voice_re_arms_them()
    {
        var clinic = await TestClinic.CreateAsync(slots: 4, patients: 0);
        var secret = "vapi-" + Guid.NewGuid().ToString("N");
        await TestApp.ExecAsync("update clinics set vapi_secret = $1 where id = $2", secret, clinic.Id);
        var phone = NewPhone();
        await VoiceToolAsync(secret, phone, "book_appointment", new { slotId = clinic.SlotIds[1], patientName = "Sam Smith" });
        var booking = await TestApp.ScalarAsync<Guid>("select id from bookings where slot_id = $1 and status = 'confirmed'", clinic.SlotIds[1]);
        Assert.Equal("phone", await TestApp.ScalarAsync<string>("select source from bookings where id = $1", booking));
        var before = await StartsAtAsync(booking);
        AssertDefaultReminders(await ArmedAsync(booking), before);

        await VoiceToolAsync(secret, phone, "reschedule_appointment", new { slotId = clinic.SlotIds[3] });
        var after = await StartsAtAsync(booking);
        Assert.Equal(before.AddHours(1), after);
        var rows = await RemindersAsync(booking);
        Assert.DoesNotContain(rows, r => r.StartsAt == before);
        AssertDefaultReminders(rows, after);
    }

    [Fact]
    public async Task A_booking_made_on_the_booking_page_from_a_follow_up_gets_its_reminders()
    {
        var clinic = await TestClinic.CreateAsync(slots: 3, patients: 0);
        using var admin = TestApp.As(clinic.Id);
        var followUp = await admin.PostAsJsonAsync("/functions/v1/trigger_followup_sms", new
        {
            eventType = "call_ended", callId = "call_" + Guid.NewGuid().ToString("N"), patientPhone = NewPhone(), patientName = "Jane Doe",
            keyword = "Rhinoplasty", bookingConfirmed = false, transcript = "rhinoplasty... hung up",
        });
        Assert.Equal(HttpStatusCode.Accepted, followUp.StatusCode);
        var leadId = (await TestClinic.Json(followUp)).GetProperty("leadId").GetGuid();
        var link = (await TestApp.ScalarAsync<string>("select booking_link from lead_followups where lead_id = $1", leadId))!;
        var path = link[link.IndexOf("/book/", StringComparison.Ordinal)..];

        using var browser = TestApp.Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var page = await new HtmlParser().ParseDocumentAsync(await browser.GetStringAsync(path));
        var csrf = page.QuerySelector("input[name=csrf]")!.GetAttribute("value")!;
        var post = await browser.PostAsync(path, new FormUrlEncodedContent([new("csrf", csrf), new("slot", clinic.SlotIds[2].ToString())]));
        Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);

        var booking = await TestApp.ScalarAsync<Guid>("select converted_booking_id from leads where id = $1", leadId);
        Assert.Equal("sms_link", await TestApp.ScalarAsync<string>("select source from bookings where id = $1", booking));
        AssertDefaultReminders(await ArmedAsync(booking), await StartsAtAsync(booking));
    }

    [Fact]
    public async Task A_booking_from_the_waitlist_or_any_other_source_gets_its_reminders_because_the_database_arms_them()
    {
        var (clinic, patient, _) = await ClinicAsync();
        // Whatever code makes the booking (the waitlist's claim, the staff console), it goes through claim_slot.
        await using var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(clinic.Id, "waitlist-test", "receptionist"), default);
        var outcome = await Frontdesk.Booking.SlotEngine.ClaimAsync(s, clinic.SlotIds[3], patient, clinic.Id, null, "waitlist", null, default);
        await s.CommitAsync(default);
        Assert.Equal(200, outcome.Status);
        AssertDefaultReminders(await ArmedAsync(outcome.BookingId!.Value), await StartsAtAsync(outcome.BookingId.Value));
    }

    [Fact]
    public async Task Moving_a_booking_re_arms_its_reminders_for_the_new_time()
    {
        var (clinic, patient, _) = await ClinicAsync();
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        var before = await StartsAtAsync(booking);
        using var admin = TestApp.As(clinic.Id);
        var moved = await admin.PutAsJsonAsync($"/api/bookings/{clinic.Id}/{booking}", new { slotId = clinic.SlotIds[3] });
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);

        var after = await StartsAtAsync(booking);
        Assert.Equal(before.AddMinutes(90), after);
        var rows = await RemindersAsync(booking);
        Assert.DoesNotContain(rows, r => r.StartsAt == before);   // nothing armed for the old time remains
        AssertDefaultReminders(rows, after);
    }

    [Fact]
    public async Task Cancelling_a_booking_removes_its_reminders()
    {
        var (clinic, patient, _) = await ClinicAsync();
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        Assert.Equal(2, (await ArmedAsync(booking)).Count);
        using var admin = TestApp.As(clinic.Id);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/bookings/{clinic.Id}/{booking}")).StatusCode);
        Assert.Empty(await RemindersAsync(booking));
    }

    [Fact]
    public async Task Erasing_the_patient_removes_the_reminders_of_their_bookings()
    {
        var (clinic, patient, _) = await ClinicAsync();
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        using var admin = TestApp.As(clinic.Id);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/patients/{clinic.Id}/{patient}")).StatusCode);
        Assert.Empty(await RemindersAsync(booking));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from booking_reminders where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task A_reminder_whose_time_has_already_passed_when_the_booking_is_made_is_not_armed()
    {
        // Three hours ahead: the 24 h reminder's time is gone, the 2 h one is still to come.
        var start = DateTimeOffset.UtcNow.AddHours(3);
        start = new DateTimeOffset(start.Year, start.Month, start.Day, start.Hour, start.Minute, 0, TimeSpan.Zero);
        var (clinic, patient, _) = await ClinicAsync(firstSlot: start, slots: 1);
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        Assert.Equal(["PT2H"], (await ArmedAsync(booking)).Select(r => r.Offset));
    }

    [Fact]
    public async Task A_past_appointment_booked_for_the_record_gets_no_reminders()
    {
        var (clinic, patient, _) = await ClinicAsync(firstSlot: DateTimeOffset.UtcNow.AddDays(-2), slots: 1);
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        Assert.Empty(await RemindersAsync(booking));
    }

    [Fact]
    public async Task A_reminder_due_in_quiet_hours_is_armed_for_the_last_allowed_minute_before_them()
    {
        // 09:00 London time a week ahead; quiet 21:00–08:00: the 2 h reminder (07:00) goes at 20:59 the evening before,
        // the 24 h one (09:00 the day before) is outside quiet hours and stays.
        var london = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        var day = DateOnly.FromDateTime(DateTime.UtcNow.AddDays(8));
        var start = new DateTimeOffset(day.ToDateTime(new TimeOnly(9, 0)), london.GetUtcOffset(day.ToDateTime(new TimeOnly(9, 0))));
        var (clinic, patient, _) = await ClinicAsync(firstSlot: start, slots: 1);
        using var admin = TestApp.As(clinic.Id);
        var quiet = await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/followup",
            new { outboundAgent = "sarah_outbound", agentName = "Sarah", quietStart = "21:00", quietEnd = "08:00" });
        Assert.Equal(HttpStatusCode.OK, quiet.StatusCode);
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);

        var armed = await ArmedAsync(booking);
        Assert.Equal(start - Day, armed[0].SendAt);
        var evening = day.AddDays(-1).ToDateTime(new TimeOnly(20, 59));
        Assert.Equal(new DateTimeOffset(evening, london.GetUtcOffset(evening)), armed[1].SendAt);
    }

    [Fact]
    public async Task Changing_the_quiet_hours_later_re_arms_future_reminders()
    {
        var london = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        var day = DateOnly.FromDateTime(DateTime.UtcNow.AddDays(8));
        var wall = day.ToDateTime(new TimeOnly(15, 0));
        var start = new DateTimeOffset(wall, london.GetUtcOffset(wall));
        var (clinic, patient, _) = await ClinicAsync(firstSlot: start, slots: 1);
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        Assert.Equal(start - TwoHours, (await ArmedAsync(booking))[1].SendAt);

        // A lunchtime quiet window (not wrapping midnight) now covers 13:00: the reminder moves to 11:59.
        using var admin = TestApp.As(clinic.Id);
        await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/followup",
            new { outboundAgent = "sarah_outbound", agentName = "Sarah", quietStart = "12:00", quietEnd = "14:00" });
        var noon = day.ToDateTime(new TimeOnly(11, 59));
        Assert.Equal(new DateTimeOffset(noon, london.GetUtcOffset(noon)), (await ArmedAsync(booking))[1].SendAt);
    }

    [Fact]
    public async Task Changing_the_offsets_or_turning_reminders_off_and_on_re_arms_future_bookings()
    {
        var (clinic, patient, _) = await ClinicAsync();
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        var start = await StartsAtAsync(booking);
        using var admin = TestApp.As(clinic.Id);

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/reminders", new { enabled = true, offsets = Offsets("P14D", "PT3H") })).StatusCode);
        Assert.Equal(["PT3H"], (await ArmedAsync(booking)).Select(r => r.Offset));   // 14 days before a booking 7–9 days ahead: already passed
        Assert.Equal(start - TimeSpan.FromHours(3), (await ArmedAsync(booking))[0].SendAt);

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/reminders", new { enabled = false, offsets = Offsets("PT3H") })).StatusCode);
        Assert.Empty(await ArmedAsync(booking));
        var later = await BookAsync(clinic.Id, clinic.SlotIds[1], patient);
        Assert.Empty(await ArmedAsync(later));

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/reminders", new { enabled = true, offsets = Offsets("P1D", "PT2H") })).StatusCode);
        AssertDefaultReminders(await ArmedAsync(booking), start);
        Assert.Equal(2, (await ArmedAsync(later)).Count);
    }
}
