using Frontdesk.Booking;
using Frontdesk.BookingPage;
using Frontdesk.Calls;
using Frontdesk.Messaging;
using Frontdesk.Privacy;
using Frontdesk.Tenancy;
using Microsoft.Extensions.Options;

namespace Frontdesk.Waitlist;

/// <summary>POST body: who waits, for what (all optional but the patient). <c>from</c>/<c>to</c>: clinic-local
/// dates (<c>2026-12-03</c>, <c>to</c> inclusive) or instants with an offset. Optional members carry defaults
/// (RespectRequiredConstructorParameters makes the others required).</summary>
public sealed record JoinWaitlist(Guid PatientId, string? Procedure = null, Guid? PractitionerId = null, string? From = null, string? To = null,
    string? PartOfDay = null);

public sealed record WaitlistCreated(Guid Id);

/// <summary>
/// The waitlist (issue 18): the staff API (<c>/api/clinics/{clinicId}/waitlist</c>), the patient's
/// claim page behind an offer SMS (<c>/waitlist/{token}</c>), the join_waitlist voice tool and the
/// outbox jobs that offer freed slots and expire entries.
/// </summary>
public static class WaitlistEndpoints
{
    public static IServiceCollection AddWaitlist(this IServiceCollection services)
    {
        services.AddOptions<WaitlistOptions>().BindConfiguration("Waitlist").ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<WaitlistOptions>>().Value);
        services.AddSingleton<WaitlistClaimToken>();
        services.AddSingleton<ClaimFlow>();
        services.AddSingleton<IOutboxHandler, WaitlistOffers>();
        services.AddSingleton<IOutboxHandler, WaitlistExpiry>();
        services.AddSingleton<IVapiTool, JoinWaitlistTool>();
        // The staff console's work queue (issue 19): offers that lapsed unclaimed.
        services.AddSingleton<StaffConsole.IWorkQueueProvider, LapsedOfferQueueProvider>();
        services.AddOutbox();
        return services;
    }

    public static void MapWaitlist(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/clinics/{clinicId}/waitlist").WithTags("Waitlist")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter);
        api.MapPost("", Join).RequireRoles(AppRoles.Admin | AppRoles.Receptionist);
        api.MapGet("", List);
        api.MapDelete("/{entryId}", Remove).RequireRoles(AppRoles.Admin | AppRoles.Receptionist);

        var guard = app.ServiceProvider.GetRequiredService<PageGuard>();
        var pages = app.MapGroup("/waitlist").ExcludeFromDescription().AddEndpointFilter(guard.FilterAsync);
        pages.MapGet("/{token}", Show);
        pages.MapPost("/{token}", Claim);
    }

    // ------------------------------------------------------------------------------------------ API

    static async Task<Results<Created<WaitlistCreated>, ProblemHttpResult>> Join(Guid clinicId, JoinWaitlist body, HttpContext http, Db db,
        Vault vault, WaitlistOptions options, CancellationToken ct)
    {
        if (body.PatientId == Guid.Empty) return Problems.Invalid("patientId is required.");
        string? part = null;
        if (body.PartOfDay is not null && (part = PartOfDay.Parse(body.PartOfDay)) is null)
            return Problems.Invalid("partOfDay must be morning, afternoon or evening.");
        if (body.Procedure is { } named && (named.Length is 0 or > 100 || named.Any(char.IsControl)))
            return Problems.Invalid("procedure must be 1–100 characters of text.");

        await using var s = await db.BeginAsync(http.Claims(), ct);
        var timezone = await s.QuerySingleOrDefaultAsync<string>("select timezone from clinics where id = @Id", new { Id = clinicId }, ct);
        if (timezone is null) return Problems.NotFoundProblem("Clinic");
        var zone = ClinicTime.Zone(timezone);
        if (!WaitlistInput.TryBound(body.From, zone, end: false, out var from))
            return Problems.Invalid("from must be a date (YYYY-MM-DD) or a date-time with an offset.");
        if (!WaitlistInput.TryBound(body.To, zone, end: true, out var to))
            return Problems.Invalid("to must be a date (YYYY-MM-DD, inclusive) or a date-time with an offset.");
        var now = DateTimeOffset.UtcNow;
        if (WaitlistInput.WindowProblem(from, to, now) is { } window) return Problems.Invalid(window);

        ProcedureFit? procedure = null;
        if (body.Procedure is { } text
            && (procedure = await ProcedureFits.FindAsync(s, clinicId, text, ct)) is null)
            return Problems.Invalid("procedure is not one of the clinic's procedures (GET /api/clinics/{clinicId}/followup lists them).");
        // Issue 17's procedure rules, as voice booking reads them: an entry that no slot could ever fit is refused.
        if (procedure is { NobodyConsults: true })
            return Problems.ConflictProblem($"Nobody consults for {procedure.Name} at the moment, so nobody can wait for it " +
                                            "(PUT /api/clinics/{clinicId}/procedures/{name} sets who does).");
        if (body.PractitionerId is { } pid && !await s.QuerySingleOrDefaultAsync<bool>(
                "select exists (select 1 from practitioners where clinic_id = @ClinicId and id = @Id)", new { ClinicId = clinicId, Id = pid }, ct))
            return Problems.NotFoundProblem("Practitioner");
        if (body.PractitionerId is { } wanted && procedure is { Restricted: true } && !procedure.PractitionerIds.Contains(wanted))
            return Problems.ConflictProblem($"The practitioner does not consult for {procedure.Name} " +
                                            "(PUT /api/clinics/{clinicId}/procedures/{name} sets who does).");
        var phone = await s.QuerySingleOrDefaultAsync<string>(
            "select coalesce(phone, '') from patients where clinic_id = @ClinicId and id = @Id and erased_at is null", new { ClinicId = clinicId, Id = body.PatientId }, ct);
        if (phone is null) return Problems.NotFoundProblem("Patient");
        if (phone.Length == 0)
            return Problems.ConflictProblem("The patient has no phone number: waitlist offers are sent by text message.");
        if (await PatientSms.OptedOutAsync(s, vault, clinicId, phone, ct))
            return Problems.ConflictProblem("The patient's number has opted out of text messages (STOP): waitlist offers are sent by text message.");

        var id = await WaitlistEntries.AddAsync(s, clinicId, new WaitlistWish(body.PatientId, procedure?.Id, body.PractitionerId, from, to, part),
            WaitlistInput.ExpiresAt(from, to, now, options), "staff", null, ct);
        await s.CommitAsync(ct);
        return TypedResults.Created($"/api/clinics/{clinicId}/waitlist/{id}", new WaitlistCreated(id));
    }

    static async Task<Ok<IReadOnlyList<WaitlistEntryView>>> List(Guid clinicId, HttpContext http, Db db, CancellationToken ct) =>
        TypedResults.Ok(await db.InTransactionAsync(http.Claims(), s => WaitlistEntries.ListAsync(s, clinicId, ct), ct));

    static async Task<Results<NoContent, ProblemHttpResult>> Remove(Guid clinicId, Guid entryId, HttpContext http, Db db, Outbox outbox, CancellationToken ct)
    {
        var removed = await db.InTransactionAsync(http.Claims(), s => WaitlistEntries.RemoveAsync(s, clinicId, entryId, ct), ct);
        if (!removed) return Problems.NotFoundProblem("Waitlist entry");
        outbox.Signal();   // a released hold: the next entry's offer
        return TypedResults.NoContent();
    }

    // ---------------------------------------------------------------------------------- claim page

    static async Task<ContentHttpResult> Show(string token, string? booked, HttpContext http, WaitlistClaimToken tokens, ClaimFlow flow,
        PageGuard guard, CancellationToken ct)
    {
        if (tokens.Authentic(token) is not { } link) return NotALink();
        return await flow.StateAsync(link, ct) switch
        {
            ClaimState.Open o => ClaimPages.Open(o.Clinic, o.SlotId, o.Offered, o.HeldUntil, token, guard.Issue(http, token)),
            ClaimState.Taken t => ClaimPages.Taken(t.Clinic, t.Offered, t.Alternatives, token, guard.Issue(http, token)),
            ClaimState.Booked b => ClaimPages.Booked(b.Clinic, b.Booking, b.ManagePath, justNow: booked == "1"),
            var other => await RefuseAsync(link, other, flow, ct),
        };
    }

    static async Task<Results<ContentHttpResult, RedirectHttpResult>> Claim(string token, HttpContext http, WaitlistClaimToken tokens,
        ClaimFlow flow, PageGuard guard, CancellationToken ct)
    {
        if (tokens.Authentic(token) is not { } link) return NotALink();
        var state = await flow.StateAsync(link, ct);
        if (state is ClaimState.Booked) return TypedResults.Redirect(WaitlistClaimToken.PathPrefix + token);
        if (state is not (ClaimState.Open or ClaimState.Taken)) return await RefuseAsync(link, state, flow, ct);
        var form = await PageGuard.FormAsync(http, ct);
        if (!guard.Valid(http, form, token))
            return Pages.Error(400, "Please try again",
                "For your security this form could not be accepted (it may have been open too long). Go back, reload the page and try again.", state.Clinic);
        // The page again as it stands, with what went wrong.
        ContentHttpResult Again(ClaimState current, string problem, int status) => current switch
        {
            ClaimState.Open o => ClaimPages.Open(o.Clinic, o.SlotId, o.Offered, o.HeldUntil, token, guard.Issue(http, token), problem, status),
            ClaimState.Taken t => ClaimPages.Taken(t.Clinic, t.Offered, t.Alternatives, token, guard.Issue(http, token), problem, status),
            _ => Pages.Error(status, "Please try again", problem, current.Clinic),
        };
        if (!Guid.TryParse(form["slot"].ToString(), out var slotId))
            return Again(state, "Please choose a time first.", 400);

        switch (await flow.ClaimAsync(link, slotId, ct))
        {
            case ClaimResult.Booked:
                // Post/redirect/get: a reload shows the booking instead of posting again.
                return TypedResults.Redirect(WaitlistClaimToken.PathPrefix + token + "?booked=1");
            case ClaimResult.Taken taken:
                var offered = state is ClaimState.Open o ? o.Offered : ((ClaimState.Taken)state).Offered;
                return ClaimPages.Taken(state.Clinic, offered, taken.Alternatives, token, guard.Issue(http, token),
                    problem: "Sorry, someone else booked that time just before you.", status: 409);
            case ClaimResult.NotValid:
                return await RefuseAsync(link, await flow.StateAsync(link, ct), flow, ct);
            default:
                return await flow.StateAsync(link, ct) is { } now and (ClaimState.Open or ClaimState.Taken)
                    ? Again(now, "That time is not offered any more. Please choose another.", 404)
                    : await RefuseAsync(link, await flow.StateAsync(link, ct), flow, ct);
        }
    }

    static ContentHttpResult NotALink() => Pages.Error(404, "This link isn't valid",
        "The link may have been copied incompletely. Please use the link from your text message, or call the clinic.", null);

    /// <summary>404 for an offer that no longer exists or an erased patient (naming nothing but the
    /// clinic); 410 for an offer withdrawn or a time that has passed.</summary>
    static async Task<ContentHttpResult> RefuseAsync(ClaimLink link, ClaimState? state, ClaimFlow flow, CancellationToken ct) => state switch
    {
        ClaimState.Past p => Pages.Error(410, "This link is no longer valid", "The time it offered has passed.", p.Clinic),
        ClaimState.Withdrawn w => Pages.Error(410, "This link is no longer valid", "This offer has been withdrawn.", w.Clinic),
        ClaimState.Cancelled c => Pages.Error(410, "This appointment was cancelled",
            "The appointment booked through this link has been cancelled. To book another time, please call the clinic.", c.Clinic),
        _ => Pages.Error(404, "This link is no longer valid", "We couldn't find this offer.", await flow.ClinicAsync(link.ClinicId, ct)),
    };
}
