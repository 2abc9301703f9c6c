using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Frontdesk.Audit;
using Frontdesk.Booking;

namespace Frontdesk.Calls;

sealed record FreeSlot(Guid Id, DateTimeOffset StartsAt, string Practitioner);

/// <summary>Shared by the booking tools: arguments, and the caller as a patient of the clinic.</summary>
static class ToolArgs
{
    public static string? Text(JsonElement args, string name, int max = 200) =>
        args.Scalar(name) is { } s && !string.IsNullOrWhiteSpace(s) ? (s.Length > max ? s[..max] : s.Trim()) : null;

    public static JsonObject Schema(params (string Name, string Type, string Description)[] properties) => new()
    {
        ["type"] = "object",
        ["properties"] = new JsonObject(properties.Select(p => KeyValuePair.Create(p.Name,
            (JsonNode?)new JsonObject { ["type"] = p.Type, ["description"] = p.Description }))),
    };

    public static string CallerPhone(VapiContext context) =>
        Phone.ToE164(context.CustomerNumber, Phone.RegionForTimezone(context.Clinic.Timezone))
        ?? throw new VapiToolException("I can't see the number you're calling from, so I can't do that by phone. Could I take your details for the team instead?");
}

/// <summary>check_availability {date?, partOfDay?, practitioner?, procedure?}: up to five free slots, spoken in the clinic's time.</summary>
public sealed class CheckAvailabilityTool : IVapiTool, IVapiToolSchema
{
    public string Name => "check_availability";
    public bool ReadsOnly => true;
    public string Description => "Finds up to five free appointment times. Returns spoken times, each with the slot id to book.";

    public JsonObject Parameters() => ToolArgs.Schema(
        ("date", "string", "Day wanted: YYYY-MM-DD, today, tomorrow or a weekday name. Optional."),
        ("partOfDay", "string", "morning, afternoon or evening. Optional."),
        ("practitioner", "string", "Practitioner name or part of it. Optional."),
        ("procedure", "string", "Treatment the consultation is about. Optional."));

    public async Task<string> InvokeAsync(VapiContext context, JsonElement arguments, CancellationToken ct)
    {
        var zone = ClinicTime.Zone(context.Clinic.Timezone);
        var (from, to) = Day(ToolArgs.Text(arguments, "date", 40), zone);
        var (hourFrom, hourTo) = ToolArgs.Text(arguments, "partOfDay", 40)?.ToLowerInvariant() switch
        {
            null => ((int?)null, (int?)null),
            "morning" => (0, 12),
            "afternoon" => (12, 17),
            "evening" => (17, 24),
            _ => throw new VapiToolException("Part of day should be morning, afternoon or evening."),
        };
        var practitioner = ToolArgs.Text(arguments, "practitioner", 100);
        var fit = await ProcedureFits.FindAsync(context.Transaction, context.Clinic.Id, ToolArgs.Text(arguments, "procedure", 100), ct);
        if (fit is { NobodyConsults: true })
            return fit.NobodyMessage(context.Clinic.Name) + " Would you like me to take a message for the team?";
        var (fitRestricted, fitPractitioners, fitMinutes) = ProcedureFit.Parameters(fit);
        var slots = await context.Transaction.QueryAsync<FreeSlot>($"""
            select s.id, s.starts_at, p.name
            from calendar_slots s
            join practitioners p on p.clinic_id = s.clinic_id and p.id = s.practitioner_id
            where s.clinic_id = @ClinicId and s.starts_at > now() and s.claimed_by is null and not s.busy
              and (s.hold_expires_at is null or s.hold_expires_at <= now())
              and (@From::timestamptz is null or s.starts_at >= @From)
              and (@To::timestamptz is null or s.starts_at < @To)
              and (@HourFrom::int is null or extract(hour from s.starts_at at time zone @Tz) >= @HourFrom)
              and (@HourTo::int is null or extract(hour from s.starts_at at time zone @Tz) < @HourTo)
              and (@Practitioner::text is null or position(lower(@Practitioner) in lower(p.name)) > 0)
              and {ProcedureFit.SlotCondition}
            order by s.starts_at
            limit 5
            """, new
        {
            ClinicId = context.Clinic.Id, From = from, To = to, HourFrom = hourFrom, HourTo = hourTo,
            Tz = context.Clinic.Timezone, Practitioner = practitioner,
            FitRestricted = fitRestricted, FitPractitioners = fitPractitioners, FitMinutes = fitMinutes,
        }, ct);
        var kind = fit is null ? "" : $" for a {fit.Name} consultation";
        if (slots.Count == 0)
            return $"There are no free times{kind} matching that. Would another day or time of day suit?";
        var spoken = slots.Select(s => $"{ClinicTime.Spoken(s.StartsAt, zone)} with {s.Practitioner} (slotId {s.Id})");
        return $"Free times{kind}: " + string.Join("; ", spoken) +
               (fit is null ? ". To book, call book_appointment with the chosen slotId." : $". To book, call book_appointment with the chosen slotId and procedure {fit.Name}.");
    }

    internal static (DateTimeOffset? From, DateTimeOffset? To) Day(string? text, TimeZoneInfo zone)
    {
        if (text is null) return (null, null);
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, zone).DateTime);
        DateOnly day;
        var t = text.ToLowerInvariant();
        if (t == "today") day = today;
        else if (t == "tomorrow") day = today.AddDays(1);
        else if (Enum.TryParse<DayOfWeek>(t, ignoreCase: true, out var dow) && !int.TryParse(t, out _))
            day = today.AddDays(((int)dow - (int)today.DayOfWeek + 7) % 7);
        else if (ClinicTime.TryParseDay(t, out var d)) day = d;
        else if (DateTimeOffset.TryParse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var dto) && ClinicTime.Plausible(dto))
            day = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(dto, zone).DateTime);
        else throw new VapiToolException("I didn't catch the date. Could you say the day again?");
        return (Start(day, zone), Start(day.AddDays(1), zone));
    }

    internal static DateTimeOffset Start(DateOnly day, TimeZoneInfo zone)
    {
        var wall = day.ToDateTime(TimeOnly.MinValue);
        while (zone.IsInvalidTime(wall)) wall = wall.AddMinutes(1);
        return new DateTimeOffset(wall, zone.GetUtcOffset(wall));
    }
}

/// <summary>book_appointment {slotId, patientName?, procedure?}: claims the slot for the caller through the slot engine.
/// An effect tool: a re-issue with the same slot books nothing more (and the slot engine answers the same
/// patient's second claim of a slot with the same booking).</summary>
public sealed class BookAppointmentTool : IVapiEffectTool, IVapiToolSchema
{
    public string Name => "book_appointment";
    public string Description => "Books a free slot (slotId from check_availability) for the caller, identified by the number they call from.";

    public JsonObject Parameters()
    {
        var schema = ToolArgs.Schema(
            ("slotId", "string", "The slotId from check_availability."),
            ("patientName", "string", "The caller's full name, if given."),
            ("procedure", "string", "The treatment the consultation is about, if known."));
        schema["required"] = new JsonArray("slotId");
        return schema;
    }

    public async Task<string> InvokeAsync(VapiContext context, JsonElement arguments, CancellationToken ct)
    {
        if (!Guid.TryParse(ToolArgs.Text(arguments, "slotId", 60), out var slotId))
            throw new VapiToolException("I need the slotId of one of the times from check_availability.");
        var phone = ToolArgs.CallerPhone(context);
        var name = ToolArgs.Text(arguments, "patientName", 100);
        var clinicId = context.Clinic.Id;

        var s = context.Transaction;
        // Procedures and who does them (issue 17): only a slot that fits the procedure is booked for it.
        var fit = await ProcedureFits.FindAsync(s, clinicId, ToolArgs.Text(arguments, "procedure", 100), ct);
        if (fit is { NobodyConsults: true })
            throw new VapiToolException(fit.NobodyMessage(context.Clinic.Name) + " Would you like me to take a message for the team?");
        if (fit is { Filters: true })
        {
            switch (await ProcedureFits.SlotFitsAsync(s, clinicId, slotId, fit, ct))
            {
                case null:
                    throw new VapiToolException("I couldn't find that time. Let me check availability again.");
                case false:
                    var fitting = await ProcedureFits.AlternativesAsync(s, clinicId, context.Clinic.Timezone, slotId, fit, 3, ct);
                    return $"That time isn't available for a {fit.Name} consultation, so nothing is booked. " + BookingReplies.Offer(fitting);
            }
        }

        var patientId = await s.QuerySingleOrDefaultAsync<Guid?>("""
            select id from patients where clinic_id = @ClinicId and phone = @Phone and erased_at is null order by created_at limit 1
            """, new { ClinicId = clinicId, Phone = phone }, ct);
        if (patientId is null)
        {
            patientId = await s.QuerySingleOrDefaultAsync<Guid>(
                "insert into patients (clinic_id, name, phone) values (@ClinicId, @Name, @Phone) returning id",
                new { ClinicId = clinicId, Name = name, Phone = phone }, ct);
            await AuditLog.WriteAsync(s, clinicId, "created", "patient", patientId.ToString(), new { source = "phone", callId = context.CallId }, ct);
        }

        var outcome = await SlotEngine.ClaimAsync(s, slotId, patientId.Value, clinicId, null, "phone", context.CallId, ct);
        switch (outcome.Status)
        {
            case 200:
                await ProcedureFits.RecordAsync(s, clinicId, outcome.BookingId!.Value, fit, ct);
                var booked = await s.QuerySingleOrDefaultAsync<FreeSlot>("""
                    select b.id, b.starts_at, p.name from bookings b join practitioners p on p.clinic_id = b.clinic_id and p.id = b.practitioner_id
                    where b.id = @Id
                    """, new { Id = outcome.BookingId!.Value }, ct);
                return $"Booked {ClinicTime.Spoken(booked!.StartsAt, ClinicTime.Zone(context.Clinic.Timezone))} with {booked.Practitioner}. " +
                       $"Booking reference {outcome.BookingId}.";
            case 409:
                var alternatives = fit is { Filters: true }
                    ? await ProcedureFits.AlternativesAsync(s, clinicId, context.Clinic.Timezone, slotId, fit, 3, ct)
                    : outcome.Alternatives;
                return alternatives.Count == 0
                    ? "Sorry, that slot was just taken and there are no other free times nearby. Would another day suit?"
                    : "Sorry, that slot was just taken. " + BookingReplies.Offer(alternatives);
            case 404:
                throw new VapiToolException("I couldn't find that time. Let me check availability again.");
            default:
                throw new VapiToolException("I couldn't book that time. Let me check availability again.");
        }
    }
}

/// <summary>cancel_appointment {bookingId?}: cancels one of the caller's bookings. Without a bookingId it
/// never guesses: the only upcoming booking is cancelled, several are listed back to choose from.
/// An effect tool: a re-issue cancels nothing more; a booking already cancelled is said to be.</summary>
public sealed class CancelAppointmentTool(BookingChangeSms sms) : IVapiEffectTool, IVapiToolSchema
{
    public string Name => "cancel_appointment";
    public string Description => "Cancels one of the caller's appointments: the given bookingId, or their only upcoming one. " +
                                 "With several upcoming appointments and no bookingId it lists them to choose from.";

    public JsonObject Parameters() => ToolArgs.Schema(("bookingId", "string", "Booking reference, if the caller has it or chose one. Optional."));

    public async Task<string> InvokeAsync(VapiContext context, JsonElement arguments, CancellationToken ct)
    {
        var phone = ToolArgs.CallerPhone(context);
        var bookingId = CallerBookings.BookingIdArgument(arguments);
        var zone = ClinicTime.Zone(context.Clinic.Timezone);
        var s = context.Transaction;

        // Only the caller's own bookings: a number cannot cancel someone else's appointment.
        // Locked, so a concurrent cancel or move of the same booking waits for this one.
        var bookings = await CallerBookings.FindAsync(s, context.Clinic.Id, phone, bookingId, 6, lockRows: true, ct);
        switch (bookings)
        {
            case []:
                throw new VapiToolException(bookingId is null ? CallerBookings.NoneUpcoming : CallerBookings.NotFound);
            case [{ Status: "cancelled" } done]:
                return $"The appointment on {ClinicTime.Spoken(done.StartsAt, zone)} is already cancelled.";
            case [{ Upcoming: false } past]:
                throw new VapiToolException($"The appointment on {ClinicTime.Spoken(past.StartsAt, zone)} has already taken place, so it can't be cancelled.");
            case [var one]:
                var outcome = await SlotEngine.CancelAsync(s, one.Id, context.Clinic.Id, ct);
                if (outcome.Status != 200)
                    throw new VapiToolException("I couldn't cancel that appointment. It may already have taken place.");
                var text = await sms.QueueAsync(s, context.Clinic.Id, one.Id, new BookingChange.Cancelled(), ct);
                return $"Cancelled the appointment on {ClinicTime.Spoken(one.StartsAt, zone)}." + (text.Queued ? " A text confirming it is on its way." : "");
            default:
                return CallerBookings.Listed(bookings, zone) + " Which one should I cancel? Call cancel_appointment again with its bookingId.";
        }
    }
}
