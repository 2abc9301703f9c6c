using Frontdesk.Calls;
using Frontdesk.Tenancy;

namespace Frontdesk.FollowUp;

/// <summary>The seed's call_ended JSON (API.md). Every member is optional on the wire; callId is checked by hand.</summary>
public sealed record CallEndedRequest(
    string? EventType = null, string? CallId = null, string? VoxanAgentId = null, string? PatientPhone = null,
    string? PatientName = null, string? LeadId = null, string? Keyword = null, bool? BookingConfirmed = null,
    double? CallDuration = null, string? Transcript = null);

public sealed record FollowUpQueuedView(Guid LeadId, Guid FollowupId, Guid MessageId, string Procedure, string? PdfLink, string AssignedAgent);

public sealed record NoFollowUpView(bool FollowUp, string Reason);

public static class FollowUpEndpoints
{
    public static IServiceCollection AddFollowUp(this IServiceCollection services)
    {
        services.AddSingleton<BookingLinkToken>();
        services.AddSingleton<FollowUpPlanner>();
        services.AddSingleton<IVapiMessageHandler, EndOfCallFollowUp>();
        return services;
    }

    /// <summary>Sending a text in the clinic's name is for the people who would send one by hand
    /// (admins, receptionists) and for service_role; a doctor's or a role-less token gets 403
    /// before its body is read.</summary>
    public static void MapFollowUp(this IEndpointRouteBuilder app) =>
        app.MapPost("/functions/v1/trigger_followup_sms", Trigger).WithTags("Follow-up").RequireAuthorization(Auth.Policies.Member)
            .RequireRoles(AppRoles.Admin | AppRoles.Receptionist);

    static async Task<Results<Accepted<FollowUpQueuedView>, Ok<NoFollowUpView>, ProblemHttpResult>> Trigger(
        CallEndedRequest body, HttpContext http, FollowUpPlanner planner, CancellationToken ct)
    {
        var claims = http.Claims();
        if (claims.ClinicId is not { } clinicId)
            return Problems.Invalid("The token names no clinic (org_id): the follow-up belongs to the token's clinic.");
        if (string.IsNullOrWhiteSpace(body.CallId) || body.CallId.Length > 200)
            return Problems.Invalid("callId is required (at most 200 characters).");
        if (body.EventType is not (null or "call_ended"))
            return Problems.Invalid("eventType must be call_ended.");
        if (body.Keyword is { Length: > 200 } || body.PatientName is { Length: > 200 } || body.LeadId is { Length: > 200 }
            || body.PatientPhone is { Length: > 40 })
            return Problems.Invalid("keyword, patientName and leadId are at most 200 characters, patientPhone at most 40.");

        var outcome = await planner.PlanAsync(claims, new CallEnded(clinicId, body.CallId, "trigger_followup_sms", body.PatientPhone,
            body.PatientName, body.Keyword, body.BookingConfirmed, body.Transcript, null, body.LeadId), ct, storeRefusals: false);
        return outcome switch
        {
            FollowUpOutcome.Refused r => r.Verdict.Problem(http),
            FollowUpOutcome.Queued q => TypedResults.Accepted((string?)null,
                new FollowUpQueuedView(q.LeadId, q.FollowupId, q.MessageId, q.Procedure, q.PdfLink, q.AssignedAgent)),
            FollowUpOutcome.None n => TypedResults.Ok(new NoFollowUpView(false, n.Reason)),
            _ => throw new InvalidOperationException("unknown follow-up outcome"),
        };
    }
}
