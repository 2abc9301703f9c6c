using System.Text.Json;
using System.Text.Json.Serialization;

namespace Frontdesk.Booking;

public sealed record Alternative(Guid SlotId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, Guid PractitionerId, string Spoken);

/// <summary>The outcome of a claim, hold or move as the SQL functions report it (status 200/404/409/400).</summary>
public sealed record SlotOutcome(int Status, JsonElement Raw, IReadOnlyList<Alternative> Alternatives)
{
    public Guid? BookingId => Raw.TryGetProperty("bookingId", out var b) && b.ValueKind == JsonValueKind.String ? b.GetGuid() : null;
    public string? Error => Raw.TryGetProperty("error", out var e) ? e.GetString() : null;
    public bool Created => Raw.TryGetProperty("created", out var c) && c.ValueKind == JsonValueKind.True;
    public bool Moved => Raw.TryGetProperty("moved", out var m) && m.ValueKind == JsonValueKind.True;
}

/// <summary>Claims, holds, moves and cancels through the SQL functions, which decide every race
/// and write the audit rows (created / moved / cancelled) in the same transaction.
/// Shared by the REST functions, the voice tools and the booking page.</summary>
public static class SlotEngine
{
    public const string TakenMessage = "Sorry, that slot was just taken. How about these alternatives?";

    public static async Task<SlotOutcome> ClaimAsync(DbSession s, Guid slotId, Guid patientId, Guid clinicId,
        string? holder, string source, string? callId, CancellationToken ct)
    {
        var raw = await s.QuerySingleOrDefaultAsync<JsonElement>(
            "select public.claim_slot(@SlotId, @PatientId, @ClinicId, @Holder, @Source, @CallId)",
            new { SlotId = slotId, PatientId = patientId, ClinicId = clinicId, Holder = holder, Source = source, CallId = callId }, ct);
        return Changed(s, await OutcomeAsync(s, clinicId, raw, ct));
    }

    public static async Task<SlotOutcome> HoldAsync(DbSession s, Guid slotId, Guid clinicId, string holder, int ttlSeconds, CancellationToken ct)
    {
        var raw = await s.QuerySingleOrDefaultAsync<JsonElement>(
            "select public.hold_slot(@SlotId, @ClinicId, @Holder, @Ttl)",
            new { SlotId = slotId, ClinicId = clinicId, Holder = holder, Ttl = ttlSeconds }, ct);
        return await OutcomeAsync(s, clinicId, raw, ct);
    }

    public static async Task<SlotOutcome> MoveAsync(DbSession s, Guid bookingId, Guid newSlotId, Guid clinicId, CancellationToken ct)
    {
        var raw = await s.QuerySingleOrDefaultAsync<JsonElement>(
            "select public.move_booking(@BookingId, @SlotId, @ClinicId)",
            new { BookingId = bookingId, SlotId = newSlotId, ClinicId = clinicId }, ct);
        return Changed(s, await OutcomeAsync(s, clinicId, raw, ct));
    }

    public static async Task<SlotOutcome> CancelAsync(DbSession s, Guid bookingId, Guid clinicId, CancellationToken ct)
    {
        var raw = await s.QuerySingleOrDefaultAsync<JsonElement>(
            "select public.cancel_booking(@BookingId, @ClinicId)", new { BookingId = bookingId, ClinicId = clinicId }, ct);
        return Changed(s, await OutcomeAsync(s, clinicId, raw, ct));
    }

    /// <summary>The <see cref="Db.Committed"/> topic of a committed claim, move or cancel: the calendar
    /// worker wakes on it (the booking triggers enqueue its job but no longer NOTIFY, issue 16).</summary>
    public const string BookingsTopic = "bookings";

    static SlotOutcome Changed(DbSession s, SlotOutcome outcome)
    {
        if (outcome.Status == 200) s.Changed(BookingsTopic);
        return outcome;
    }

    static async Task<SlotOutcome> OutcomeAsync(DbSession s, Guid clinicId, JsonElement raw, CancellationToken ct)
    {
        var status = raw.GetProperty("status").GetInt32();
        if (!raw.TryGetProperty("alternatives", out var alts) || alts.GetArrayLength() == 0)
            return new SlotOutcome(status, raw, []);
        var tz = ClinicTime.Zone(await s.QuerySingleOrDefaultAsync<string>("select timezone from clinics where id = @Id", new { Id = clinicId }, ct));
        var list = alts.EnumerateArray().Select(a =>
        {
            var start = a.GetProperty("startsAt").GetDateTimeOffset();
            var end = a.GetProperty("endsAt").GetDateTimeOffset();
            return new Alternative(a.GetProperty("slotId").GetGuid(), ClinicTime.Local(start, tz), ClinicTime.Local(end, tz),
                a.GetProperty("practitionerId").GetGuid(), ClinicTime.Spoken(start, tz));
        }).ToList();
        return new SlotOutcome(status, raw, list);
    }

    /// <summary>"Tuesday 3 March at 10:30, Tuesday 3 March at 11:00 or Wednesday 4 March at 09:00".</summary>
    public static string SpokenList(IReadOnlyList<Alternative> alternatives) => alternatives.Count switch
    {
        0 => "",
        1 => alternatives[0].Spoken,
        _ => string.Join(", ", alternatives.Take(alternatives.Count - 1).Select(a => a.Spoken)) + " or " + alternatives[^1].Spoken,
    };
}

/// <summary>The body of a 409: the seed's shape plus spoken forms.</summary>
public sealed record SlotTakenBody(
    [property: JsonPropertyName("status")] int Status,
    [property: JsonPropertyName("error")] string Error,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("alternatives")] IReadOnlyList<Alternative> Alternatives,
    [property: JsonPropertyName("spoken")] string Spoken);
