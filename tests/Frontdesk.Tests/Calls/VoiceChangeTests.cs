using System.Globalization;
using Frontdesk.Manage;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Privacy;
using Microsoft.Extensions.DependencyInjection;
using static Frontdesk.Tests.Calls.VapiPayloads;

namespace Frontdesk.Tests.Calls;

/// <summary>
/// Issue 17, "Reschedule and cancel by voice, safely": list_my_appointments, reschedule_appointment and
/// cancel_appointment with real-shaped Vapi tool calls; the patient's text through the outbox to the
/// fake Twilio (quiet hours and opt-outs kept).
/// </summary>
[Collection("twilio")]
public class VoiceChangeTests(TwilioFixture fx)
{
    static readonly TimeSpan SmsWait = TimeSpan.FromSeconds(60);

    async Task<(string Text, bool Error)> ToolAsync(string secret, string call, string? phone, string name, object args, string? toolCallId = null) =>
        Result(await TwilioFixture.JsonAsync(await fx.VapiAsync(secret,
            ToolCall(call, phone!, toolCallId ?? "call_" + Guid.NewGuid().ToString("N"), name, args))));

    async Task<Guid> BookAsync(string secret, string phone, Guid slotId, string? procedure = null)
    {
        var booked = await ToolAsync(secret, NewCall(), phone, "book_appointment",
            procedure is null ? new { slotId, patientName = "Jane Doe" } : new { slotId, patientName = "Jane Doe", procedure });
        Assert.False(booked.Error, booked.Text);
        Assert.StartsWith("Booked ", booked.Text);
        return Guid.Parse(booked.Text[(booked.Text.LastIndexOf(' ') + 1)..].TrimEnd('.'));
    }

    static async Task<string> SpokenAsync(Guid slotId, string timezone = "Europe/London")
    {
        var start = await TestApp.ScalarAsync<DateTime>("select starts_at from calendar_slots where id = $1", slotId);
        return TimeZoneInfo.ConvertTime(new DateTimeOffset(DateTime.SpecifyKind(start, DateTimeKind.Utc)), TimeZoneInfo.FindSystemTimeZoneById(timezone))
            .ToString("dddd d MMMM 'at' HH:mm", CultureInfo.InvariantCulture);
    }

    static Task<Guid> SlotOfAsync(Guid bookingId) => TestApp.ScalarAsync<Guid>("select slot_id from bookings where id = $1", bookingId);

    static Task<long> MessagesAsync(Guid clinicId) => TestApp.ScalarAsync<long>("select count(*) from sms_messages where clinic_id = $1", clinicId);

    static Task<long> MovesAsync(Guid clinicId) =>
        TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'moved' and entity = 'booking'", clinicId);

    // --- list_my_appointments ------------------------------------------------------------------

    [Fact]
    public async Task List_my_appointments_speaks_the_callers_upcoming_bookings_in_the_clinics_time_with_ids_and_nothing_for_other_numbers()
    {
        var clinic = await TestClinic.CreateAsync(slots: 4, patients: 0, timezone: "America/New_York");
        var secret = "vapi-" + Guid.NewGuid().ToString("N");
        await TestApp.ExecAsync("update clinics set vapi_secret = $1 where id = $2", secret, clinic.Id);
        var phone = TwilioFixture.NewPhone();
        var other = TwilioFixture.NewPhone();
        var later = await BookAsync(secret, phone, clinic.SlotIds[2]);
        var sooner = await BookAsync(secret, phone, clinic.SlotIds[0]);
        var cancelled = await BookAsync(secret, phone, clinic.SlotIds[3]);
        var theirs = await BookAsync(secret, other, clinic.SlotIds[1]);
        await TestApp.ExecAsync("select public.cancel_booking($1, $2)", cancelled, clinic.Id);

        var list = await ToolAsync(secret, NewCall(), phone, "list_my_appointments", new { });
        Assert.False(list.Error, list.Text);
        Assert.StartsWith("You have two upcoming appointments: ", list.Text);
        // Soonest first, in New York time (not UTC), each with its id.
        var first = $"{await SpokenAsync(clinic.SlotIds[0], "America/New_York")} with Dr Test (bookingId {sooner})";
        var second = $"{await SpokenAsync(clinic.SlotIds[2], "America/New_York")} with Dr Test (bookingId {later})";
        Assert.Contains(first + "; " + second + ".", list.Text);
        Assert.DoesNotContain(cancelled.ToString(), list.Text);
        Assert.DoesNotContain(theirs.ToString(), list.Text);

        var stranger = await ToolAsync(secret, NewCall(), TwilioFixture.NewPhone(), "list_my_appointments", new { });
        Assert.Equal(("I couldn't find an upcoming appointment for the number you're calling from.", false), stranger);
        var withheld = await ToolAsync(secret, NewCall(), null, "list_my_appointments", new { });
        Assert.True(withheld.Error);
        Assert.StartsWith("I can't see the number you're calling from", withheld.Text);
    }

    // --- reschedule_appointment ----------------------------------------------------------------

    [Fact]
    public async Task Reschedule_with_one_upcoming_booking_moves_it_frees_the_old_slot_and_texts_the_new_time_with_a_manage_link()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var booking = await BookAsync(secret, phone, clinic.SlotIds[0]);
        var (from, to) = (await SpokenAsync(clinic.SlotIds[0]), await SpokenAsync(clinic.SlotIds[2]));

        var moved = await ToolAsync(secret, NewCall(), phone, "reschedule_appointment", new { slotId = clinic.SlotIds[2] });

        Assert.Equal(($"Moved the appointment from {from} to {to} with Dr Test. A text with the new time is on its way. Booking reference {booking}.", false), moved);
        Assert.Equal(clinic.SlotIds[2], await SlotOfAsync(booking));
        Assert.Equal("confirmed", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", booking));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", clinic.SlotIds[0]));
        Assert.NotNull(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", clinic.SlotIds[2]));
        Assert.Equal(1L, await MovesAsync(clinic.Id));

        var sms = await fx.Fake.WaitForAsync(phone, SmsWait);
        Assert.StartsWith($"Clinic ", sms.Body);
        Assert.Contains($": your appointment has moved to {to} with Dr Test (it was {from}). To change or cancel it: https://frontdesk.test/manage/", sms.Body);
        var token = sms.Body[(sms.Body.IndexOf("/manage/", StringComparison.Ordinal) + "/manage/".Length)..];
        var link = fx.App.Services.GetRequiredService<ManageLinkToken>().Authentic(token);
        Assert.NotNull(link);
        Assert.Equal((clinic.Id, booking), (link!.ClinicId, link.BookingId));
        var newStart = await TestApp.ScalarAsync<DateTime>("select starts_at from bookings where id = $1", booking);
        Assert.Equal(new DateTimeOffset(DateTime.SpecifyKind(newStart, DateTimeKind.Utc)), link.ExpiresAt);
        Assert.Equal("message", await TestApp.ScalarAsync<string>("select purpose from sms_messages where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task Reschedule_without_a_booking_id_asks_which_of_two_bookings_and_moves_nothing_then_moves_the_one_named()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var first = await BookAsync(secret, phone, clinic.SlotIds[0]);
        var second = await BookAsync(secret, phone, clinic.SlotIds[1]);
        var call = NewCall();

        var ask = await ToolAsync(secret, call, phone, "reschedule_appointment", new { slotId = clinic.SlotIds[3] });
        Assert.False(ask.Error);
        Assert.StartsWith("You have two upcoming appointments: ", ask.Text);
        Assert.Contains($"(bookingId {first})", ask.Text);
        Assert.Contains($"(bookingId {second})", ask.Text);
        Assert.EndsWith("Which one should I move? Call reschedule_appointment again with its bookingId and the slotId.", ask.Text);
        Assert.Equal(clinic.SlotIds[0], await SlotOfAsync(first));
        Assert.Equal(clinic.SlotIds[1], await SlotOfAsync(second));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", clinic.SlotIds[3]));
        Assert.Equal(0L, await MessagesAsync(clinic.Id));

        var moved = await ToolAsync(secret, call, phone, "reschedule_appointment", new { bookingId = second, slotId = clinic.SlotIds[3] });
        Assert.StartsWith("Moved the appointment from ", moved.Text);
        Assert.Equal(clinic.SlotIds[3], await SlotOfAsync(second));
        Assert.Equal(clinic.SlotIds[0], await SlotOfAsync(first));
        Assert.Contains(await SpokenAsync(clinic.SlotIds[3]), (await fx.Fake.WaitForAsync(phone, SmsWait)).Body);
        Assert.Equal(1L, await MessagesAsync(clinic.Id));
    }

    [Fact]
    public async Task A_reissued_reschedule_moves_once_and_texts_once()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var booking = await BookAsync(secret, phone, clinic.SlotIds[0]);
        var call = NewCall();

        var moved = await ToolAsync(secret, call, phone, "reschedule_appointment", new { slotId = clinic.SlotIds[2] }, "call_r1");
        // The model re-issues after a timeout (new toolCallId), and Vapi retries the first delivery too.
        var reissued = await ToolAsync(secret, call, phone, "reschedule_appointment", new { slotId = clinic.SlotIds[2] }, "call_r2");
        var retried = await ToolAsync(secret, call, phone, "reschedule_appointment", new { slotId = clinic.SlotIds[2] }, "call_r1");

        Assert.StartsWith("Moved the appointment from ", moved.Text);
        Assert.Equal(moved, reissued);
        Assert.Equal(moved, retried);
        Assert.Equal(clinic.SlotIds[2], await SlotOfAsync(booking));
        Assert.Equal(1L, await MovesAsync(clinic.Id));
        Assert.Equal(1L, await MessagesAsync(clinic.Id));
        await fx.Fake.WaitForAsync(phone, SmsWait);
        Assert.Single(fx.Fake.For(phone));
    }

    [Fact]
    public async Task Reschedule_to_a_taken_time_offers_alternatives_in_words_and_keeps_the_booking()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var booking = await BookAsync(secret, phone, clinic.SlotIds[0]);
        await BookAsync(secret, TwilioFixture.NewPhone(), clinic.SlotIds[2]);

        var taken = await ToolAsync(secret, NewCall(), phone, "reschedule_appointment", new { slotId = clinic.SlotIds[2] });

        Assert.False(taken.Error);
        Assert.StartsWith($"Sorry, that time was just taken, so the appointment stays on {await SpokenAsync(clinic.SlotIds[0])}. I can offer ", taken.Text);
        Assert.Contains(await SpokenAsync(clinic.SlotIds[1]), taken.Text);
        Assert.Contains($"Their slotIds in the same order: {clinic.SlotIds[1]}", taken.Text);
        Assert.Equal(clinic.SlotIds[0], await SlotOfAsync(booking));
        Assert.Equal(0L, await MovesAsync(clinic.Id));
        Assert.Equal(0L, await MessagesAsync(clinic.Id));
    }

    [Fact]
    public async Task A_caller_cannot_move_or_cancel_a_booking_of_another_number()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var owner = TwilioFixture.NewPhone();
        var booking = await BookAsync(secret, owner, clinic.SlotIds[0]);
        var stranger = TwilioFixture.NewPhone();
        await BookAsync(secret, stranger, clinic.SlotIds[1]);

        var move = await ToolAsync(secret, NewCall(), stranger, "reschedule_appointment", new { bookingId = booking, slotId = clinic.SlotIds[3] });
        var cancel = await ToolAsync(secret, NewCall(), stranger, "cancel_appointment", new { bookingId = booking });

        var notFound = ("I couldn't find that booking for the number you're calling from. Could you read the reference again?", true);
        Assert.Equal(notFound, move);
        Assert.Equal(notFound, cancel);
        Assert.Equal(clinic.SlotIds[0], await SlotOfAsync(booking));
        Assert.Equal("confirmed", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", booking));
        Assert.Equal(0L, await MessagesAsync(clinic.Id));
    }

    public static TheoryData<string, string> BadReschedules => new()
    {
        { "no-slot", "I need the slotId of the new time from check_availability." },
        { "slot-not-a-uuid", "I need the slotId of the new time from check_availability." },
        { "slot-a-number", "I need the slotId of the new time from check_availability." },
        { "booking-not-a-uuid", "That booking reference doesn't look right. Could you read it again?" },
        { "unknown-slot", "I couldn't find that time. Let me check availability again." },
        { "other-clinics-slot", "I couldn't find that time. Let me check availability again." },
        { "past-slot", "That time has already passed. Let me check availability again." },
        { "withheld-number", "I can't see the number you're calling from, so I can't do that by phone. Could I take your details for the team instead?" },
        { "unknown-number", "I couldn't find an upcoming appointment for the number you're calling from." },
        { "cancelled-booking", "was cancelled, so it can't be moved. I can book a new time instead." },
    };

    [Theory]
    [MemberData(nameof(BadReschedules))]
    public async Task A_bad_reschedule_is_a_spoken_error_and_changes_nothing(string what, string spoken)
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var (other, _) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var booking = await BookAsync(secret, phone, clinic.SlotIds[0]);
        var cancelled = await BookAsync(secret, phone, clinic.SlotIds[1]);
        await TestApp.ExecAsync("select public.cancel_booking($1, $2)", cancelled, clinic.Id);
        var past = await TestApp.ScalarAsync<Guid>("""
            insert into calendar_slots (clinic_id, practitioner_id, starts_at, ends_at)
            values ($1, $2, now() - interval '2 hours', now() - interval '90 minutes') returning id
            """, clinic.Id, clinic.PractitionerId);
        var free = clinic.SlotIds[3];
        var (caller, args) = what switch
        {
            "no-slot" => (phone, (object)new { }),
            "slot-not-a-uuid" => (phone, new { slotId = "tomorrow at ten" }),
            "slot-a-number" => (phone, new { slotId = 42 }),
            "booking-not-a-uuid" => (phone, new { bookingId = "B-123", slotId = free }),
            "unknown-slot" => (phone, new { slotId = Guid.NewGuid() }),
            "other-clinics-slot" => (phone, new { slotId = other.SlotIds[0] }),
            "past-slot" => (phone, new { slotId = past }),
            "withheld-number" => (null, new { slotId = free }),
            "unknown-number" => (TwilioFixture.NewPhone(), new { slotId = free }),
            "cancelled-booking" => (phone, new { bookingId = cancelled, slotId = free }),
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };

        var answer = await ToolAsync(secret, NewCall(), caller, "reschedule_appointment", args);

        Assert.True(answer.Error, answer.Text);
        Assert.EndsWith(spoken, answer.Text);
        Assert.Equal(clinic.SlotIds[0], await SlotOfAsync(booking));
        Assert.Null(await TestApp.ScalarAsync<Guid?>("select claimed_by from calendar_slots where id = $1", free));
        Assert.Equal(0L, await MovesAsync(clinic.Id));
        Assert.Equal(0L, await MessagesAsync(clinic.Id));
    }

    [Fact]
    public async Task Cancel_and_reschedule_refuse_an_appointment_that_has_already_taken_place_and_list_does_not_offer_it()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        await BookAsync(secret, phone, clinic.SlotIds[0]);
        var patient = await TestApp.ScalarAsync<Guid>("select id from patients where clinic_id = $1 and phone = $2", clinic.Id, phone);
        var pastSlot = await TestApp.ScalarAsync<Guid>("""
            insert into calendar_slots (clinic_id, practitioner_id, starts_at, ends_at, claimed_by, claimed_at)
            values ($1, $2, now() - interval '1 day', now() - interval '1 day' + interval '30 minutes', $3, now() - interval '2 days') returning id
            """, clinic.Id, clinic.PractitionerId, patient);
        var past = await TestApp.ScalarAsync<Guid>("""
            insert into bookings (clinic_id, slot_id, patient_id, practitioner_id, starts_at, ends_at, source)
            select clinic_id, id, claimed_by, practitioner_id, starts_at, ends_at, 'phone' from calendar_slots where id = $1 returning id
            """, pastSlot);

        var list = await ToolAsync(secret, NewCall(), phone, "list_my_appointments", new { });
        var cancel = await ToolAsync(secret, NewCall(), phone, "cancel_appointment", new { bookingId = past });
        var move = await ToolAsync(secret, NewCall(), phone, "reschedule_appointment", new { bookingId = past, slotId = clinic.SlotIds[3] });

        Assert.StartsWith("You have one upcoming appointment: ", list.Text);
        Assert.DoesNotContain(past.ToString(), list.Text);
        Assert.True(cancel.Error);
        Assert.EndsWith("has already taken place, so it can't be cancelled.", cancel.Text);
        Assert.True(move.Error);
        Assert.EndsWith("has already taken place, so it can't be moved.", move.Text);
        Assert.Equal("confirmed", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", past));
        Assert.Equal(pastSlot, await SlotOfAsync(past));
        Assert.Equal(0L, await MessagesAsync(clinic.Id));
    }

    // --- cancel_appointment --------------------------------------------------------------------

    [Fact]
    public async Task Cancel_by_voice_texts_the_patient_that_the_appointment_is_cancelled_without_a_dead_manage_link()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        await TestApp.ExecAsync("update clinics set phone = '+442071234567' where id = $1", clinic.Id);
        var phone = TwilioFixture.NewPhone();
        var booking = await BookAsync(secret, phone, clinic.SlotIds[1]);

        var cancelled = await ToolAsync(secret, NewCall(), phone, "cancel_appointment", new { });

        var when = await SpokenAsync(clinic.SlotIds[1]);
        Assert.Equal(($"Cancelled the appointment on {when}. A text confirming it is on its way.", false), cancelled);
        Assert.Equal("cancelled", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", booking));
        var sms = await fx.Fake.WaitForAsync(phone, SmsWait);
        Assert.EndsWith($": your appointment on {when} with Dr Test is cancelled. To book again, call +442071234567.", sms.Body);
        Assert.DoesNotContain("/manage/", sms.Body);
    }

    [Fact]
    public async Task Cancel_without_a_booking_id_lists_two_bookings_and_cancels_nothing_and_no_text_goes_out()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var first = await BookAsync(secret, phone, clinic.SlotIds[0]);
        var second = await BookAsync(secret, phone, clinic.SlotIds[2]);

        var ask = await ToolAsync(secret, NewCall(), phone, "cancel_appointment", new { });

        Assert.False(ask.Error);
        Assert.StartsWith("You have two upcoming appointments: ", ask.Text);
        Assert.Contains($"(bookingId {first})", ask.Text);
        Assert.Contains($"(bookingId {second})", ask.Text);
        Assert.EndsWith("Which one should I cancel? Call cancel_appointment again with its bookingId.", ask.Text);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1 and status = 'cancelled'", clinic.Id));
        Assert.Equal(0L, await MessagesAsync(clinic.Id));
    }

    // --- the text: quiet hours and opt-outs --------------------------------------------------------

    [Fact]
    public async Task A_change_made_in_quiet_hours_is_texted_when_they_end_not_at_night()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var booking = await BookAsync(secret, phone, clinic.SlotIds[0]);
        // Quiet hours around now at the clinic (an hour either side, in its own zone).
        var local = TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById("Europe/London"));
        await TestApp.ExecAsync("update clinics set quiet_start = $1::time, quiet_end = $2::time where id = $3",
            local.AddHours(-1).ToString("HH:mm", CultureInfo.InvariantCulture), local.AddHours(1).ToString("HH:mm", CultureInfo.InvariantCulture), clinic.Id);

        var moved = await ToolAsync(secret, NewCall(), phone, "reschedule_appointment", new { slotId = clinic.SlotIds[2] });
        Assert.StartsWith("Moved the appointment from ", moved.Text);
        Assert.Equal(clinic.SlotIds[2], await SlotOfAsync(booking));

        var until = DateTime.UtcNow.AddSeconds(60);
        while (await TestApp.ScalarAsync<string>("select last_error from outbox where clinic_id = $1", clinic.Id) != "quiet hours")
        {
            Assert.True(DateTime.UtcNow < until, "the sender never deferred the text for quiet hours");
            await Task.Delay(100);
        }
        Assert.True(await TestApp.ScalarAsync<bool>("select next_attempt_at > now() + interval '30 minutes' from outbox where clinic_id = $1", clinic.Id));
        Assert.Equal("queued", await TestApp.ScalarAsync<string>("select status from sms_messages where clinic_id = $1", clinic.Id));
        Assert.Empty(fx.Fake.For(phone));
    }

    [Fact]
    public async Task An_opted_out_number_gets_no_text_for_a_move_or_a_cancel_and_the_change_still_happens()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var booking = await BookAsync(secret, phone, clinic.SlotIds[0]);
        await CallerHashes.OptOutAsync(clinic.Id, phone);

        var moved = await ToolAsync(secret, NewCall(), phone, "reschedule_appointment", new { slotId = clinic.SlotIds[2] });
        var cancelled = await ToolAsync(secret, NewCall(), phone, "cancel_appointment", new { bookingId = booking });

        Assert.Equal(($"Moved the appointment from {await SpokenAsync(clinic.SlotIds[0])} to {await SpokenAsync(clinic.SlotIds[2])} with Dr Test. Booking reference {booking}.", false), moved);
        Assert.Equal(($"Cancelled the appointment on {await SpokenAsync(clinic.SlotIds[2])}.", false), cancelled);
        Assert.Equal("cancelled", await TestApp.ScalarAsync<string>("select status from bookings where id = $1", booking));
        Assert.Equal(0L, await MessagesAsync(clinic.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from outbox where clinic_id = $1", clinic.Id));
        Assert.Empty(fx.Fake.For(phone));
    }

    [Fact]
    public async Task A_change_text_the_SMS_guard_refuses_is_kept_as_failed_and_the_move_stands()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var phone = TwilioFixture.NewPhone();
        var booking = await BookAsync(secret, phone, clinic.SlotIds[0]);
        await TestApp.ExecAsync("update clinics set sms_allowed_countries = '{US}' where id = $1", clinic.Id);

        var moved = await ToolAsync(secret, NewCall(), phone, "reschedule_appointment", new { slotId = clinic.SlotIds[2] });

        Assert.DoesNotContain("text", moved.Text);
        Assert.Equal(clinic.SlotIds[2], await SlotOfAsync(booking));
        Assert.Equal("failed", await TestApp.ScalarAsync<string>("select status from sms_messages where clinic_id = $1", clinic.Id));
        Assert.StartsWith("refused: Messages to GB are not allowed", await TestApp.ScalarAsync<string>("select error_message from sms_messages where clinic_id = $1", clinic.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from outbox where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task The_assistant_declares_list_and_reschedule_with_slotId_required()
    {
        var (_, secret) = await TwilioFixture.ClinicAsync();
        var r = await TwilioFixture.JsonAsync(await fx.VapiAsync(secret, new { message = new { type = "assistant-request", call = new { id = NewCall() } } }));
        var tools = r.GetProperty("assistant").GetProperty("model").GetProperty("tools").EnumerateArray()
            .Where(t => t.GetProperty("type").GetString() == "function")   // the endCall tool has no function
            .ToDictionary(t => t.GetProperty("function").GetProperty("name").GetString()!, t => t.GetProperty("function"));
        Assert.Contains("list_my_appointments", tools.Keys);
        var reschedule = tools["reschedule_appointment"].GetProperty("parameters");
        Assert.Equal("slotId", Assert.Single(reschedule.GetProperty("required").EnumerateArray()).GetString());
        Assert.True(reschedule.GetProperty("properties").TryGetProperty("bookingId", out _));
    }
}
