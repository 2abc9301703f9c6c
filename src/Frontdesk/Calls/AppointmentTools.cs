using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Frontdesk.Booking;

namespace Frontdesk.Calls;

/// <summary>One of the caller's bookings as the voice tools speak of it.</summary>
sealed record CallerBooking(Guid Id, DateTimeOffset StartsAt, string Status, bool Upcoming, string Practitioner, Guid? ProcedureId, string? Procedure)
{
    public string Spoken(TimeZoneInfo zone) =>
        $"{(Procedure is null ? "" : Procedure + " consultation on ")}{ClinicTime.Spoken(StartsAt, zone)} with {Practitioner} (bookingId {Id})";
}

/// <summary>
/// The caller's own bookings: those of the clinic's not-erased patients whose number is the number
/// calling. A withheld number has none (<see cref="ToolArgs.CallerPhone"/> refuses first), an unknown
/// number has none, and nobody can name a booking of another number.
/// </summary>
static class CallerBookings
{
    /// <summary>With <paramref name="bookingId"/>: that booking if it is the caller's (any status or time);
    /// without: the caller's upcoming confirmed bookings, soonest first, at most <paramref name="limit"/>.
    /// <paramref name="lockRows"/> locks them, so a concurrent move or cancel of the same booking waits.</summary>
    public static Task<IReadOnlyList<CallerBooking>> FindAsync(DbSession s, Guid clinicId, string phone, Guid? bookingId, int limit,
        bool lockRows, CancellationToken ct) =>
        s.QueryAsync<CallerBooking>($"""
            select b.id, b.starts_at, b.status, b.starts_at > now(), pr.name, b.procedure_id, cp.name
            from bookings b
            join patients p on p.clinic_id = b.clinic_id and p.id = b.patient_id
            join practitioners pr on pr.clinic_id = b.clinic_id and pr.id = b.practitioner_id
            left join clinic_procedures cp on cp.clinic_id = b.clinic_id and cp.id = b.procedure_id
            where b.clinic_id = @ClinicId and p.phone = @Phone and p.erased_at is null
              and (b.id = @BookingId or @BookingId::uuid is null and b.status = 'confirmed' and b.starts_at > now())
            order by b.starts_at
            limit @Limit
            {(lockRows ? "for update of b" : "")}
            """, new { ClinicId = clinicId, Phone = phone, BookingId = bookingId, Limit = limit }, ct);

    /// <summary>The optional bookingId argument; a value that is not one is a spoken error.</summary>
    public static Guid? BookingIdArgument(JsonElement arguments) =>
        ToolArgs.Text(arguments, "bookingId", 60) is { } raw
            ? Guid.TryParse(raw, out var id) ? id : throw new VapiToolException("That booking reference doesn't look right. Could you read it again?")
            : null;

    /// <summary>"You have 2 upcoming appointments: …; …" (at most five spoken).</summary>
    public static string Listed(IReadOnlyList<CallerBooking> bookings, TimeZoneInfo zone, int shown = 5) =>
        $"You have {(bookings.Count > shown ? "more than " + Words(shown) : Words(bookings.Count))} upcoming appointment{(bookings.Count == 1 ? "" : "s")}: " +
        string.Join("; ", bookings.Take(shown).Select(b => b.Spoken(zone))) + ".";

    static string Words(int n) => n switch
    {
        1 => "one", 2 => "two", 3 => "three", 4 => "four", 5 => "five",
        _ => n.ToString(CultureInfo.InvariantCulture),
    };

    public const string NoneUpcoming = "I couldn't find an upcoming appointment for the number you're calling from.";
    public const string NotFound = "I couldn't find that booking for the number you're calling from. Could you read the reference again?";
}

/// <summary>list_my_appointments {}: the caller's upcoming bookings, spoken in the clinic's time, with
/// their ids for reschedule_appointment and cancel_appointment. Nothing for a withheld or unknown number.</summary>
public sealed class ListMyAppointmentsTool : IVapiTool, IVapiToolSchema
{
    public string Name => "list_my_appointments";
    public string Description => "Lists the caller's upcoming appointments (found by the number they call from), each with its bookingId.";

    public JsonObject Parameters() => ToolArgs.Schema();

    public async Task<string> InvokeAsync(VapiContext context, JsonElement arguments, CancellationToken ct)
    {
        var phone = ToolArgs.CallerPhone(context);
        var bookings = await CallerBookings.FindAsync(context.Transaction, context.Clinic.Id, phone, null, 6, lockRows: false, ct);
        if (bookings.Count == 0) return CallerBookings.NoneUpcoming;
        return CallerBookings.Listed(bookings, ClinicTime.Zone(context.Clinic.Timezone)) +
               " To move one, call reschedule_appointment with its bookingId and a slotId from check_availability; to cancel one, call cancel_appointment with its bookingId.";
    }
}

/// <summary>
/// reschedule_appointment {bookingId?, slotId}: moves one of the caller's bookings to a free slot
/// through the slot engine's move (new slot claimed and old one freed in one statement, or nothing),
/// and texts the patient the new time with the booking's manage link. Without a bookingId it moves the
/// caller's only upcoming booking and, with several, lists them and asks which. A booking made for a
/// procedure moves only to a slot that fits it. An effect tool: a re-issue moves nothing more.
/// </summary>
public sealed class RescheduleAppointmentTool(BookingChangeSms sms) : IVapiEffectTool, IVapiToolSchema
{
    public string Name => "reschedule_appointment";
    public string Description => "Moves one of the caller's appointments to a new free time (slotId from check_availability). " +
                                 "Without bookingId it moves their only upcoming appointment; with several it lists them to choose from.";

    public JsonObject Parameters()
    {
        var schema = ToolArgs.Schema(
            ("bookingId", "string", "The booking to move (from list_my_appointments), if the caller has several. Optional."),
            ("slotId", "string", "The new time's slotId from check_availability."));
        schema["required"] = new JsonArray("slotId");
        return schema;
    }

    sealed record SlotRow(DateTimeOffset StartsAt, bool Future);

    public async Task<string> InvokeAsync(VapiContext context, JsonElement arguments, CancellationToken ct)
    {
        if (!Guid.TryParse(ToolArgs.Text(arguments, "slotId", 60), out var slotId))
            throw new VapiToolException("I need the slotId of the new time from check_availability.");
        var bookingId = CallerBookings.BookingIdArgument(arguments);
        var phone = ToolArgs.CallerPhone(context);
        var clinicId = context.Clinic.Id;
        var zone = ClinicTime.Zone(context.Clinic.Timezone);
        var s = context.Transaction;

        var bookings = await CallerBookings.FindAsync(s, clinicId, phone, bookingId, 6, lockRows: true, ct);
        var booking = bookings switch
        {
            [] => throw new VapiToolException(bookingId is null ? CallerBookings.NoneUpcoming : CallerBookings.NotFound),
            [{ Status: "cancelled" } done] => throw new VapiToolException(
                $"The appointment on {ClinicTime.Spoken(done.StartsAt, zone)} was cancelled, so it can't be moved. I can book a new time instead."),
            [{ Upcoming: false } past] => throw new VapiToolException(
                $"The appointment on {ClinicTime.Spoken(past.StartsAt, zone)} has already taken place, so it can't be moved."),
            [var one] => one,
            _ => null,
        };
        if (booking is null)
            return CallerBookings.Listed(bookings, zone) +
                   " Which one should I move? Call reschedule_appointment again with its bookingId and the slotId.";

        var slot = await s.QuerySingleOrDefaultAsync<SlotRow>(
            "select starts_at, starts_at > now() from calendar_slots where clinic_id = @ClinicId and id = @SlotId",
            new { ClinicId = clinicId, SlotId = slotId }, ct);
        if (slot is null) throw new VapiToolException("I couldn't find that time. Let me check availability again.");
        if (!slot.Future) throw new VapiToolException("That time has already passed. Let me check availability again.");

        var fit = await ProcedureFits.ByIdAsync(s, clinicId, booking.ProcedureId, ct);
        if (fit is { Filters: true } && await ProcedureFits.SlotFitsAsync(s, clinicId, slotId, fit, ct) == false)
        {
            var fitting = await ProcedureFits.AlternativesAsync(s, clinicId, context.Clinic.Timezone, slotId, fit, 3, ct);
            return $"That time isn't available for a {fit.Name} consultation, so the appointment stays on {ClinicTime.Spoken(booking.StartsAt, zone)}. " +
                   BookingReplies.Offer(fitting);
        }

        var outcome = await SlotEngine.MoveAsync(s, booking.Id, slotId, clinicId, ct);
        switch (outcome.Status)
        {
            case 200 when !outcome.Moved:
                return $"The appointment is already on {ClinicTime.Spoken(booking.StartsAt, zone)}.";
            case 200:
                var text = await sms.QueueAsync(s, clinicId, booking.Id, new BookingChange.Moved(booking.StartsAt), ct);
                var moved = await s.QuerySingleOrDefaultAsync<FreeSlot>("""
                    select b.id, b.starts_at, p.name from bookings b join practitioners p on p.clinic_id = b.clinic_id and p.id = b.practitioner_id
                    where b.clinic_id = @ClinicId and b.id = @Id
                    """, new { ClinicId = clinicId, booking.Id }, ct);
                return $"Moved the appointment from {ClinicTime.Spoken(booking.StartsAt, zone)} to {ClinicTime.Spoken(moved!.StartsAt, zone)} with {moved.Practitioner}." +
                       (text.Queued ? " A text with the new time is on its way." : "") + $" Booking reference {booking.Id}.";
            case 409:
                var alternatives = fit is { Filters: true }
                    ? await ProcedureFits.AlternativesAsync(s, clinicId, context.Clinic.Timezone, slotId, fit, 3, ct)
                    : outcome.Alternatives;
                return $"Sorry, that time was just taken, so the appointment stays on {ClinicTime.Spoken(booking.StartsAt, zone)}. " + BookingReplies.Offer(alternatives);
            default:
                throw new VapiToolException("I couldn't move that appointment. Let me check availability again.");
        }
    }
}

/// <summary>Spoken alternatives, shared by the booking tools.</summary>
static class BookingReplies
{
    public static string Offer(IReadOnlyList<Alternative> alternatives) => alternatives.Count == 0
        ? "There are no other free times nearby. Would another day suit?"
        : $"I can offer {SlotEngine.SpokenList(alternatives)}. Their slotIds in the same order: " +
          string.Join(", ", alternatives.Select(a => a.SlotId)) + ".";
}
