using Frontdesk.FollowUp;
using Microsoft.Extensions.Options;

namespace Frontdesk.BookingPage;

/// <summary>
/// The patient's booking page behind the follow-up SMS link: GET /book/{token} lists free times
/// (or the booking already made), POST claims one atomically, /book/cancel/{token} cancels it.
/// Anonymous: the signed, expiring link token is the only credential, and it names one clinic.
/// </summary>
public static class BookingPageEndpoints
{
    public static IServiceCollection AddBookingPage(this IServiceCollection services)
    {
        services.AddOptions<BookingPageOptions>().BindConfiguration("BookingPage").ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<BookingPageOptions>>().Value);
        services.AddSingleton<CancelLinkToken>();
        services.AddSingleton<PageGuard>();
        services.AddSingleton<BookingFlow>();
        return services;
    }

    public static void MapBookingPage(this IEndpointRouteBuilder app)
    {
        var guard = app.ServiceProvider.GetRequiredService<PageGuard>();
        var group = app.MapGroup("/book").ExcludeFromDescription().AddEndpointFilter(guard.FilterAsync);
        group.MapGet("/cancel/{token}", CancelPage);
        group.MapPost("/cancel/{token}", Cancel);
        group.MapGet("/{token}", Show);
        group.MapPost("/{token}", Confirm);
    }

    static async Task<ContentHttpResult> Show(string token, HttpContext http, BookingLinkToken tokens, BookingFlow flow,
        PageGuard guard, CancellationToken ct)
    {
        if (await OpenAsync(token, tokens, flow, ct) is not { } opened) return await RefuseAsync(token, tokens, flow, ct);
        var (link, state) = opened;
        if (state.Booking is { } booked)
            return Pages.Booked(state.Clinic, booked, flow.CancelPath(link.ClinicId, booked, link.LeadId), state.Texted);
        var times = await flow.FreeTimesAsync(link.ClinicId, state.Procedure, ct);
        return Pages.Choose(state.Clinic, state.Procedure, state.PatientName, "/book/" + token, guard.Issue(http, token),
            times.Slots, unavailable: Unavailable(times, state));
    }

    /// <summary>Why a procedure has no times at all: nobody at the clinic consults for it (issue 17).</summary>
    static string? Unavailable(FreeTimes times, LinkState state) =>
        times.Procedure is { NobodyConsults: true } p
            ? $"Sorry, {p.Name} consultations can't be booked at {state.Clinic.Name} at the moment."
            : null;

    static async Task<ContentHttpResult> ChooseAgainAsync(BookingLink link, LinkState state, string action, string csrf, BookingFlow flow,
        string problem, int status, CancellationToken ct)
    {
        var times = await flow.FreeTimesAsync(link.ClinicId, state.Procedure, ct);
        return Pages.Choose(state.Clinic, state.Procedure, state.PatientName, action, csrf, times.Slots, problem: problem, status: status,
            unavailable: Unavailable(times, state));
    }

    static async Task<Results<ContentHttpResult, RedirectHttpResult>> Confirm(string token, HttpContext http, BookingLinkToken tokens,
        BookingFlow flow, PageGuard guard, CancellationToken ct)
    {
        if (await OpenAsync(token, tokens, flow, ct) is not { } opened) return await RefuseAsync(token, tokens, flow, ct);
        var (link, state) = opened;
        // An unreadable form (control characters, too many fields) is an empty one: the CSRF check refuses it.
        var form = await PageGuard.FormAsync(http, ct);
        if (!guard.Valid(http, form, token))
            return Pages.Error(400, "Please try again",
                "For your security this form could not be accepted (it may have been open too long). Go back, reload the page and choose your time again.",
                state.Clinic);
        var action = "/book/" + token;
        if (!Guid.TryParse(form["slot"].ToString(), out var slotId))
            return await ChooseAgainAsync(link, state, action, guard.Issue(http, token), flow, "Please choose a time first.", 400, ct);

        switch (await flow.BookAsync(link, slotId, ct))
        {
            case BookResult.Booked or BookResult.AlreadyBooked:
                // Post/redirect/get: a reload of the confirmation shows it again instead of re-posting.
                return TypedResults.Redirect(action);
            case BookResult.Taken { Alternatives.Count: > 0 } taken:
                return Pages.Choose(state.Clinic, state.Procedure, state.PatientName, action, guard.Issue(http, token),
                    await flow.ChoicesAsync(link.ClinicId, taken.Alternatives, ct),
                    problem: "Sorry, that time was just taken by someone else. Here are the nearest free times.",
                    legend: "Nearest free times", status: 409);
            case BookResult.Taken:
                return await ChooseAgainAsync(link, state, action, guard.Issue(http, token), flow, "Sorry, that time was just taken by someone else.", 409, ct);
            case BookResult.NoSuchLead:
                return Pages.Error(404, "This link is no longer valid", "We couldn't find the enquiry this link was sent for.", state.Clinic);
            default:
                return await ChooseAgainAsync(link, state, action, guard.Issue(http, token), flow, "That time is not offered any more. Please choose another.", 404, ct);
        }
    }

    static async Task<(BookingLink, LinkState)?> OpenAsync(string token, BookingLinkToken tokens, BookingFlow flow, CancellationToken ct) =>
        tokens.Validate(token, DateTimeOffset.UtcNow) is { } link && await flow.StateAsync(link, ct) is { } state ? (link, state) : null;

    /// <summary>410 for an authentic link past its expiry (its clinic named), 404 for anything else:
    /// a tampered link learns nothing, not even whether the clinic exists.</summary>
    static async Task<ContentHttpResult> RefuseAsync(string token, BookingLinkToken tokens, BookingFlow flow, CancellationToken ct)
    {
        if (tokens.Authentic(token) is not { } link)
            return Pages.Error(404, "This link isn't valid",
                "The booking link may have been copied incompletely. Please use the link from your text message, or call the clinic.", null);
        var clinic = await flow.ClinicAsync(link.ClinicId, ct);
        return link.ExpiresAt <= DateTimeOffset.UtcNow
            ? Pages.Error(410, "This booking link has expired", "Booking links work for two weeks after we send them.", clinic)
            : Pages.Error(404, "This link is no longer valid", "We couldn't find the enquiry this link was sent for.", clinic);
    }

    static async Task<ContentHttpResult> CancelPage(string token, HttpContext http, CancelLinkToken tokens, BookingFlow flow,
        PageGuard guard, CancellationToken ct)
    {
        if (await OpenCancelAsync(token, tokens, flow, ct) is not { } opened) return await RefuseCancelAsync(token, tokens, flow, ct);
        var (link, booking, live, clinic) = opened;
        return live
            ? Pages.ConfirmCancel(clinic, booking, "/book/cancel/" + token, guard.Issue(http, token))
            : Pages.Cancelled(clinic, booking, await BookAgainAsync(link, flow, http, ct), justNow: false);
    }

    static async Task<ContentHttpResult> Cancel(string token, HttpContext http, CancelLinkToken tokens, BookingFlow flow,
        PageGuard guard, CancellationToken ct)
    {
        if (await OpenCancelAsync(token, tokens, flow, ct) is not { } opened) return await RefuseCancelAsync(token, tokens, flow, ct);
        var (link, booking, live, clinic) = opened;
        // An unreadable form (control characters, too many fields) is an empty one: the CSRF check refuses it.
        var form = await PageGuard.FormAsync(http, ct);
        if (!guard.Valid(http, form, token))
            return Pages.Error(400, "Please try again",
                "For your security this form could not be accepted. Go back, reload the page and press the button again.", clinic);
        var now = live && await flow.CancelAsync(link, ct);
        return Pages.Cancelled(clinic, booking, await BookAgainAsync(link, flow, http, ct), justNow: now);
    }

    static async Task<string?> BookAgainAsync(CancelLink link, BookingFlow flow, HttpContext http, CancellationToken ct) =>
        await flow.LeadProcedureAsync(link.ClinicId, link.LeadId, ct) is { } procedure
            ? "/book/" + http.RequestServices.GetRequiredService<BookingLinkToken>()
                .Create(link.ClinicId, link.LeadId, procedure, DateTimeOffset.UtcNow + BookingLinkToken.DefaultLifetime)
            : null;

    static async Task<(CancelLink, BookedView, bool, ClinicView)?> OpenCancelAsync(string token, CancelLinkToken tokens, BookingFlow flow, CancellationToken ct) =>
        tokens.Authentic(token) is { } link && link.ExpiresAt > DateTimeOffset.UtcNow && await flow.CancelStateAsync(link, ct) is { } s
            ? (link, s.Booking, s.Live, s.Clinic)
            : null;

    static async Task<ContentHttpResult> RefuseCancelAsync(string token, CancelLinkToken tokens, BookingFlow flow, CancellationToken ct)
    {
        if (tokens.Authentic(token) is not { } link)
            return Pages.Error(404, "This link isn't valid", "Please use the link from your confirmation text, or call the clinic.", null);
        var clinic = await flow.ClinicAsync(link.ClinicId, ct);
        return link.ExpiresAt <= DateTimeOffset.UtcNow
            ? Pages.Error(410, "This booking can't be cancelled online", "The appointment time has passed.", clinic)
            : Pages.Error(404, "Booking not found", "We couldn't find this booking.", clinic);
    }
}
