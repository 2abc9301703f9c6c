using System.Text.Json;
using Frontdesk.Tenancy;

namespace Frontdesk.Booking;

public sealed record ClaimRequest(Guid SlotId, Guid PatientId, Guid ClinicId, string? Holder = null);

public sealed record HoldRequest(Guid SlotId, Guid ClinicId, string Holder, int? TtlSeconds = null);

public sealed record ClaimResponse(int Status, bool Success, Guid SlotId, Guid BookingId, DateTimeOffset ClaimedAt);

public sealed record HoldResponse(int Status, bool Success, Guid SlotId, string Holder, DateTimeOffset HoldExpiresAt);

/// <summary>The seed's functions: POST /functions/v1/claim_slot_atomic and hold_slot.</summary>
public static class ClaimEndpoints
{
    public static void MapClaims(this IEndpointRouteBuilder app)
    {
        var fn = app.MapGroup("/functions/v1").WithTags("Slots").RequireAuthorization(Auth.Policies.Member);
        fn.MapPost("/claim_slot_atomic", Claim);
        fn.MapPost("/hold_slot", Hold);
    }

    static async Task<Results<Ok<ClaimResponse>, Conflict<SlotTakenBody>, ProblemHttpResult>> Claim(
        ClaimRequest body, HttpContext http, Db db, CancellationToken ct)
    {
        if (body.SlotId == Guid.Empty || body.PatientId == Guid.Empty || body.ClinicId == Guid.Empty)
            return Problems.Invalid("slotId, patientId and clinicId are required UUIDs.");
        if (body.Holder is { Length: > 200 })
            return Problems.Invalid("holder is at most 200 characters.");
        if (await ClinicScope.DenyIfForeignAsync(http, body.ClinicId, ct) is { } denied) return denied;

        var outcome = await db.InTransactionAsync(http.Claims(), s =>
            SlotEngine.ClaimAsync(s, body.SlotId, body.PatientId, body.ClinicId, body.Holder, "api", null, ct), ct);
        return outcome.Status switch
        {
            200 => TypedResults.Ok(new ClaimResponse(200, true, body.SlotId, outcome.BookingId!.Value,
                outcome.Raw.GetProperty("claimedAt").GetDateTimeOffset())),
            409 => TypedResults.Conflict(Taken(outcome)),
            404 => Problems.NotFoundProblem(outcome.Error?.StartsWith("Patient", StringComparison.Ordinal) == true ? "Patient" : "Slot"),
            _ => Problems.Invalid(outcome.Error ?? "invalid claim"),
        };
    }

    internal static SlotTakenBody Taken(SlotOutcome outcome) =>
        new(409, "Slot already claimed", SlotEngine.TakenMessage, outcome.Alternatives, SlotEngine.SpokenList(outcome.Alternatives));

    static async Task<Results<Ok<HoldResponse>, Conflict<SlotTakenBody>, ProblemHttpResult>> Hold(
        HoldRequest body, HttpContext http, Db db, CancellationToken ct)
    {
        var ttl = body.TtlSeconds ?? 300;
        if (body.SlotId == Guid.Empty || body.ClinicId == Guid.Empty || string.IsNullOrWhiteSpace(body.Holder) || body.Holder.Length > 200)
            return Problems.Invalid("slotId, clinicId and holder are required.");
        if (ttl is < 1 or > 3600)
            return Problems.Invalid("ttlSeconds must be between 1 and 3600.");
        if (await ClinicScope.DenyIfForeignAsync(http, body.ClinicId, ct) is { } denied) return denied;

        var outcome = await db.InTransactionAsync(http.Claims(), s => SlotEngine.HoldAsync(s, body.SlotId, body.ClinicId, body.Holder, ttl, ct), ct);
        return outcome.Status switch
        {
            200 => TypedResults.Ok(new HoldResponse(200, true, body.SlotId, body.Holder, outcome.Raw.GetProperty("holdExpiresAt").GetDateTimeOffset())),
            409 => TypedResults.Conflict(Taken(outcome)),
            404 => Problems.NotFoundProblem("Slot"),
            _ => Problems.Invalid(outcome.Error ?? "invalid hold"),
        };
    }
}
