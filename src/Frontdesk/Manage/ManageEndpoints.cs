using Frontdesk.BookingPage;

namespace Frontdesk.Manage;

/// <summary>
/// The patient's page for one booking behind <c>/manage/{token}</c> (issue 18): see it in the clinic's
/// time, move it to another free time (atomic, 409 with alternatives), or cancel it after a
/// confirmation step. Anonymous: the signed link is the only credential, valid until the appointment
/// starts and dead once the booking is cancelled or its patient erased. The booking page's guard
/// gives every response the same security headers, CSRF check and rate limits.
/// </summary>
public static class ManageEndpoints
{
    public static IServiceCollection AddManagePage(this IServiceCollection services)
    {
        services.AddManageLinks();
        services.AddSingleton<ManageFlow>();
        return services;
    }

    public static void MapManagePage(this IEndpointRouteBuilder app)
    {
        var guard = app.ServiceProvider.GetRequiredService<PageGuard>();
        var group = app.MapGroup("/manage").ExcludeFromDescription().AddEndpointFilter(guard.FilterAsync);
        group.MapGet("/{token}", Show);
        group.MapPost("/{token}/move", Move);
        group.MapGet("/{token}/cancel", CancelPage);
        group.MapPost("/{token}/cancel", Cancel);
    }

    static async Task<ContentHttpResult> Show(string token, string? moved, HttpContext http, ManageLinkToken tokens, ManageFlow flow,
        PageGuard guard, CancellationToken ct)
    {
        if (await OpenAsync(token, tokens, flow, ct) is not { } opened) return await RefuseAsync(token, tokens, flow, ct);
        var (link, state) = opened;
        return ManagePages.Manage(state.Clinic, state.Booking, token, guard.Issue(http, token), await flow.FreeSlotsAsync(link, ct),
            notice: moved switch
            {
                "1" => "Your appointment has been moved. We've sent the new time to your phone.",
                "2" => "Your appointment has been moved. Please make a note of the new time below.",
                _ => null,
            });
    }

    static async Task<Results<ContentHttpResult, RedirectHttpResult>> Move(string token, HttpContext http, ManageLinkToken tokens,
        ManageFlow flow, PageGuard guard, CancellationToken ct)
    {
        if (await OpenAsync(token, tokens, flow, ct) is not { } opened) return await RefuseAsync(token, tokens, flow, ct);
        var (link, state) = opened;
        var form = await PageGuard.FormAsync(http, ct);
        if (!guard.Valid(http, form, token))
            return Pages.Error(400, "Please try again",
                "For your security this form could not be accepted (it may have been open too long). Go back, reload the page and choose your time again.",
                state.Clinic);
        if (!Guid.TryParse(form["slot"].ToString(), out var slotId))
            return ManagePages.Manage(state.Clinic, state.Booking, token, guard.Issue(http, token), await flow.FreeSlotsAsync(link, ct),
                problem: "Please choose a new time first.", status: 400);

        switch (await flow.MoveAsync(link, slotId, ct))
        {
            case MoveResult.Moved m:
                // Post/redirect/get to the link of the new time (a link expires when its appointment starts).
                // moved=1: the new time was texted; moved=2: it was not (opted out, no number, not textable).
                return TypedResults.Redirect(tokens.PathFor(link.ClinicId, link.BookingId, m.Booking.StartsAt) + (m.Texted ? "?moved=1" : "?moved=2"));
            case MoveResult.Taken taken:
                return ManagePages.Manage(state.Clinic, state.Booking, token, guard.Issue(http, token), taken.Alternatives,
                    problem: "Sorry, that time was just taken by someone else. Your appointment has not changed. Here are the nearest free times.",
                    legend: "Nearest free times", status: 409);
            case MoveResult.NotLive:
                return await RefuseAsync(token, tokens, flow, ct);
            default:
                return ManagePages.Manage(state.Clinic, state.Booking, token, guard.Issue(http, token), await flow.FreeSlotsAsync(link, ct),
                    problem: "That time is not offered any more. Please choose another.", status: 404);
        }
    }

    static async Task<ContentHttpResult> CancelPage(string token, HttpContext http, ManageLinkToken tokens, ManageFlow flow,
        PageGuard guard, CancellationToken ct)
    {
        if (await OpenAsync(token, tokens, flow, ct) is not { } opened) return await RefuseAsync(token, tokens, flow, ct);
        var (_, state) = opened;
        return Pages.ConfirmCancel(state.Clinic, state.Booking, ManageLinkToken.PathPrefix + token + "/cancel", guard.Issue(http, token));
    }

    static async Task<ContentHttpResult> Cancel(string token, HttpContext http, ManageLinkToken tokens, ManageFlow flow,
        PageGuard guard, CancellationToken ct)
    {
        if (await OpenAsync(token, tokens, flow, ct) is not { } opened) return await RefuseAsync(token, tokens, flow, ct);
        var (link, state) = opened;
        var form = await PageGuard.FormAsync(http, ct);
        if (!guard.Valid(http, form, token))
            return Pages.Error(400, "Please try again",
                "For your security this form could not be accepted. Go back, reload the page and press the button again.", state.Clinic);
        return await flow.CancelAsync(link, ct)
            ? Pages.Cancelled(state.Clinic, state.Booking, bookAgainPath: null, justNow: true)
            : await RefuseAsync(token, tokens, flow, ct);
    }

    /// <summary>The link and its live booking, or null (then <see cref="RefuseAsync"/> says why).</summary>
    static async Task<(ManageLink, ManageState)?> OpenAsync(string token, ManageLinkToken tokens, ManageFlow flow, CancellationToken ct) =>
        tokens.Authentic(token) is { } link && link.ExpiresAt > DateTimeOffset.UtcNow
        && await flow.StateAsync(link, ct) is { Status: ManageStatus.Live } state
            ? (link, state)
            : null;

    /// <summary>404 names nothing for a tampered link or one whose patient was erased; an authentic
    /// link to a cancelled booking or one that has started says it is no longer valid (410) and names
    /// the clinic so the patient can call.</summary>
    static async Task<ContentHttpResult> RefuseAsync(string token, ManageLinkToken tokens, ManageFlow flow, CancellationToken ct)
    {
        if (tokens.Authentic(token) is not { } link)
            return Pages.Error(404, "This link isn't valid",
                "The link may have been copied incompletely. Please use the link from your text message, or call the clinic.", null);
        var state = await flow.StateAsync(link, ct);
        var clinic = state?.Clinic ?? await flow.ClinicAsync(link.ClinicId, ct);
        return state?.Status switch
        {
            ManageStatus.Cancelled => Pages.Error(410, "This link is no longer valid", "This appointment has been cancelled.", clinic),
            ManageStatus.Started => Pages.Error(410, "This link is no longer valid", "The appointment time has passed, so it can't be changed online.", clinic),
            _ => Pages.Error(404, "This link is no longer valid", "We couldn't find this appointment.", clinic),
        };
    }
}
