using System.Net;
using System.Net.Http.Json;
using Frontdesk.Manage;
using Frontdesk.Messaging;
using Frontdesk.Platform;
using Frontdesk.Reminders;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static Frontdesk.Tests.Reminders.ReminderHelpers;

namespace Frontdesk.Tests.Reminders;

/// <summary>Due reminders reach the patient once, through the outbox and the fake Twilio, and never for a
/// booking that is gone or has started, nor in quiet hours. Clock control: send times are backdated, or a
/// booking and its reminders are moved back in time together (<see cref="ReminderHelpers.TimePassesAsync"/>).</summary>
[Collection("twilio")]
public class ReminderSendingTests(TwilioFixture fx)
{
    static readonly TimeSpan Day = TimeSpan.FromDays(1), TwoHours = TimeSpan.FromHours(2);

    ReminderScanner Scanner => fx.App.Services.GetRequiredService<ReminderScanner>();

    static async Task<DateTimeOffset> StartsAtAsync(Guid bookingId) =>
        new(await TestApp.ScalarAsync<DateTime>("select starts_at from bookings where id = $1", bookingId), TimeSpan.Zero);

    static Task<string?> MessageStatusAsync(Guid messageId) => TestApp.ScalarAsync<string>("select status from sms_messages where id = $1", messageId);

    [Fact]
    public async Task A_due_reminder_is_sent_once_with_the_time_the_reply_words_and_a_manage_link_to_the_booking()
    {
        var (clinic, patient, phone) = await ClinicAsync();
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[1], patient);
        var start = await StartsAtAsync(booking);
        var clinicName = await TestApp.ScalarAsync<string>("select name from clinics where id = $1", clinic.Id);
        Assert.Equal(1, await DueNowAsync(booking, Day));

        // Two scans at once (two instances): the row lock and the status decide, one SMS.
        await Task.WhenAll(Scanner.RunOnceAsync(default), Scanner.RunOnceAsync(default));
        var sms = await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(10));
        Assert.Equal($"Hi Jane Doe, a reminder of your appointment at {clinicName} on {Spoken(start)} with Dr Test. "
                     + "Reply C to confirm or R to reschedule. To change or cancel: https://frontdesk.test/manage/", sms.Body[..sms.Body.LastIndexOf('/')] + "/");
        var token = sms.Body[(sms.Body.LastIndexOf('/') + 1)..];
        var link = fx.App.Services.GetRequiredService<ManageLinkToken>().Authentic(token);
        Assert.Equal((clinic.Id, booking, start), (link!.ClinicId, link.BookingId, link.ExpiresAt));

        await Scanner.RunOnceAsync(default);
        await Task.Delay(500);
        Assert.Single(fx.Fake.For(phone));
        var row = (await RemindersAsync(booking)).Single(r => r.Offset == "P1D");
        Assert.Equal("queued", row.Status);
        Assert.Equal("reminder", await TestApp.ScalarAsync<string>("select purpose from sms_messages where id = $1", row.MessageId!.Value));
        Assert.Equal(sms.Sid, await TestApp.ScalarAsync<string>("select twilio_sid from sms_messages where id = $1", row.MessageId.Value));
        Assert.Equal(row.MessageId.ToString(), await TestApp.ScalarAsync<string>(
            "select detail ->> 'messageId' from audit_trail where clinic_id = $1 and action = 'reminder_queued' and entity_id = $2", clinic.Id, booking.ToString()));
        Assert.Equal("armed", (await RemindersAsync(booking)).Single(r => r.Offset == "PT2H").Status);
    }

    [Fact]
    public async Task A_reminder_is_queued_ahead_with_its_send_time_as_the_not_before_so_it_goes_at_its_minute()
    {
        var (clinic, patient, phone) = await ClinicAsync();
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        await DueNowAsync(booking, TwoHours, inFuture: TimeSpan.FromSeconds(25));
        await Scanner.RunOnceAsync(default);
        var row = (await RemindersAsync(booking)).Single(r => r.Offset == "PT2H");
        Assert.Equal("queued", row.Status);
        Assert.Equal(row.SendAt, new DateTimeOffset(await TestApp.ScalarAsync<DateTime>(
            "select next_attempt_at from outbox where kind = 'sms' and payload ->> 'MessageId' = $1", row.MessageId!.Value.ToString()), TimeSpan.Zero));
        await Task.Delay(1500);
        Assert.Empty(fx.Fake.For(phone));
        Assert.Equal("queued", await MessageStatusAsync(row.MessageId.Value));
    }

    [Theory]
    [InlineData("cancel")]
    [InlineData("move")]
    public async Task A_reminder_queued_before_its_booking_was_cancelled_or_moved_is_not_sent(string change)
    {
        var (clinic, patient, phone) = await ClinicAsync();
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        await DueNowAsync(booking, TwoHours, inFuture: TimeSpan.FromSeconds(25));
        await Scanner.RunOnceAsync(default);
        var messageId = (await RemindersAsync(booking)).Single(r => r.Offset == "PT2H").MessageId!.Value;

        using var admin = fx.As(clinic.Id);
        var r = change == "cancel"
            ? await admin.DeleteAsync($"/api/bookings/{clinic.Id}/{booking}")
            : await admin.PutAsJsonAsync($"/api/bookings/{clinic.Id}/{booking}", new { slotId = clinic.SlotIds[2] });
        Assert.True(r.IsSuccessStatusCode);
        // Its time comes (clock control: the job is made due now).
        await TestApp.ExecAsync("update outbox set next_attempt_at = now() where kind = 'sms' and payload ->> 'MessageId' = $1", messageId.ToString());
        fx.App.Services.GetRequiredService<Outbox>().Signal();
        await WaitUntilAsync(async () => await MessageStatusAsync(messageId) == "cancelled");
        Assert.Equal("not sent: the booking was cancelled or moved",
            await TestApp.ScalarAsync<string>("select error_message from sms_messages where id = $1", messageId));
        Assert.Empty(fx.Fake.For(phone));
        if (change == "move") Assert.Equal(2, (await ArmedAsync(booking)).Count);   // the new time has its own reminders
    }

    [Fact]
    public async Task A_reminder_found_after_the_appointment_started_is_skipped_not_sent()
    {
        var (clinic, patient, phone) = await ClinicAsync();
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        var start = await StartsAtAsync(booking);
        // The service was down: now it is a minute past the appointment, and both reminders are overdue.
        await TimePassesAsync(booking, start - DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1));
        await Scanner.RunOnceAsync(default);
        var rows = await RemindersAsync(booking);
        Assert.All(rows, r => Assert.Equal("skipped", r.Status));
        Assert.All(rows, r => Assert.Null(r.MessageId));
        Assert.Equal("the appointment has started", rows.Single(r => r.Offset == "PT2H").SkipReason);
        await Task.Delay(500);
        Assert.Empty(fx.Fake.For(phone));
    }

    [Fact]
    public async Task Of_two_overdue_reminders_only_the_later_one_goes()
    {
        var (clinic, patient, phone) = await ClinicAsync();
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        await DueNowAsync(booking, Day);
        await DueNowAsync(booking, TwoHours);
        await Scanner.RunOnceAsync(default);
        await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(10));
        var rows = await RemindersAsync(booking);
        Assert.Equal("a later reminder of the same appointment is due too", rows.Single(r => r.Offset == "P1D").SkipReason);
        Assert.Equal("queued", rows.Single(r => r.Offset == "PT2H").Status);
        await Task.Delay(500);
        Assert.Single(fx.Fake.For(phone));
    }

    /// <summary>Quiet hours from an hour ago to <paramref name="endsIn"/> from now, in the clinic's (London) time.</summary>
    static async Task QuietNowAsync(Guid clinicId, TimeSpan endsIn)
    {
        var local = TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById("Europe/London"));
        var now = TimeOnly.FromDateTime(local.DateTime);
        await QuietHoursWithoutRearmingAsync(clinicId, new TimeOnly(now.Hour, now.Minute).AddHours(-1), new TimeOnly(now.Hour, now.Minute).Add(endsIn));
    }

    [Fact]
    public async Task A_reminder_held_by_quiet_hours_that_end_after_the_appointment_is_never_sent_and_is_kept_as_failed()
    {
        var start = DateTimeOffset.UtcNow.AddHours(3);
        var (clinic, patient, phone) = await ClinicAsync(firstSlot: start, slots: 1);
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        // Quiet hours from now until after the appointment (set after the reminder was armed: a retry, a backlog).
        await QuietNowAsync(clinic.Id, TimeSpan.FromHours(4));
        await DueNowAsync(booking, TwoHours);
        await Scanner.RunOnceAsync(default);
        var messageId = (await RemindersAsync(booking)).Single().MessageId!.Value;
        await WaitUntilAsync(async () => await MessageStatusAsync(messageId) == "failed");
        Assert.Contains("could not go before the appointment",
            await TestApp.ScalarAsync<string>("select error_message from sms_messages where id = $1", messageId));
        Assert.Empty(fx.Fake.For(phone));
        // A person sees it.
        using var admin = fx.As(clinic.Id);
        var review = await TestClinic.Json(await admin.GetAsync($"/api/clinics/{clinic.Id}/review"));
        Assert.Contains(review.EnumerateArray(), i => i.GetProperty("id").GetString() == messageId.ToString() && i.GetProperty("purpose").GetString() == "reminder");
    }

    [Fact]
    public async Task A_reminder_held_by_quiet_hours_that_end_before_the_appointment_waits_for_their_end()
    {
        var start = DateTimeOffset.UtcNow.AddHours(5);
        var (clinic, patient, phone) = await ClinicAsync(firstSlot: start, slots: 1);
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        await QuietNowAsync(clinic.Id, TimeSpan.FromHours(2));
        await DueNowAsync(booking, TwoHours);
        await Scanner.RunOnceAsync(default);
        var messageId = (await RemindersAsync(booking)).Single(r => r.Offset == "PT2H").MessageId!.Value;
        await WaitUntilAsync(async () => await TestApp.ScalarAsync<string>(
            "select last_error from outbox where kind = 'sms' and payload ->> 'MessageId' = $1", messageId.ToString()) == "quiet hours");
        var next = new DateTimeOffset(await TestApp.ScalarAsync<DateTime>(
            "select next_attempt_at from outbox where kind = 'sms' and payload ->> 'MessageId' = $1", messageId.ToString()), TimeSpan.Zero);
        Assert.InRange(next, DateTimeOffset.UtcNow.AddHours(1.5), start);
        Assert.Equal("queued", await MessageStatusAsync(messageId));
        Assert.Empty(fx.Fake.For(phone));
    }

    [Fact]
    public async Task A_patient_who_opted_out_gets_no_reminder_and_no_message_row()
    {
        var (clinic, patient, phone) = await ClinicAsync();
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        await TestApp.ExecAsync("insert into sms_opt_outs (clinic_id, phone_hash, source) values ($1, $2, 'sms-keyword')",
            clinic.Id, await Frontdesk.Tests.Privacy.CallerHashes.OfAsync(clinic.Id, phone));
        await DueNowAsync(booking, Day);
        await Scanner.RunOnceAsync(default);
        var row = (await RemindersAsync(booking)).Single(r => r.Offset == "P1D");
        Assert.Equal(("skipped", "the patient opted out of SMS"), (row.Status, row.SkipReason));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from sms_messages where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task A_reminder_the_SMS_guard_refuses_is_kept_as_a_failed_message_for_review_and_not_sent()
    {
        var (clinic, patient, phone) = await ClinicAsync();
        await TestApp.ExecAsync("update clinics set sms_allowed_countries = array['US'] where id = $1", clinic.Id);
        var booking = await BookAsync(clinic.Id, clinic.SlotIds[0], patient);
        await DueNowAsync(booking, Day);
        await Scanner.RunOnceAsync(default);
        var row = (await RemindersAsync(booking)).Single(r => r.Offset == "P1D");
        Assert.Equal("queued", row.Status);
        Assert.Equal("failed", await MessageStatusAsync(row.MessageId!.Value));
        Assert.StartsWith("refused: Messages to GB are not allowed",
            await TestApp.ScalarAsync<string>("select error_message from sms_messages where id = $1", row.MessageId.Value));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from outbox where clinic_id = $1", clinic.Id));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'sms_refused' and entity_id = $2", clinic.Id, booking.ToString()));
        Assert.Empty(fx.Fake.For(phone));
    }

    // The send-time rule on its own (pure): follow-ups keep waiting out quiet hours; reminders never go at or after their appointment.
    static readonly TimeZoneInfo London = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
    static readonly DateTimeOffset TwoAm = new(2026, 1, 14, 2, 0, 0, TimeSpan.Zero);
    static readonly TimeOnly Nine = new(21, 0), Eight = new(8, 0);

    [Fact]
    public void The_send_rule_defers_a_reminder_to_the_end_of_quiet_hours_only_when_that_is_before_the_appointment()
    {
        Assert.Equal(new SendDecision.Wait(TwoAm.AddHours(6)),
            SendRule.Decide(TwoAm, SmsPurpose.Reminder, false, Nine, Eight, London, notAfter: TwoAm.AddHours(7)));
        Assert.IsType<SendDecision.TooLate>(SendRule.Decide(TwoAm, SmsPurpose.Reminder, false, Nine, Eight, London, notAfter: TwoAm.AddHours(6)));
        Assert.IsType<SendDecision.TooLate>(SendRule.Decide(TwoAm, SmsPurpose.Reminder, false, null, null, London, notAfter: TwoAm));
        Assert.IsType<SendDecision.Send>(SendRule.Decide(TwoAm, SmsPurpose.Reminder, false, null, null, London, notAfter: TwoAm.AddMinutes(1)));
        Assert.IsType<SendDecision.OptedOut>(SendRule.Decide(TwoAm, SmsPurpose.Reminder, true, null, null, London, notAfter: TwoAm.AddDays(-1)));
        // Follow-ups have no appointment: unchanged.
        Assert.Equal(new SendDecision.Wait(TwoAm.AddHours(6)), SendRule.Decide(TwoAm, SmsPurpose.FollowUp, false, Nine, Eight, London));
    }
}
