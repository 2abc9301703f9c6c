using System.Globalization;
using Frontdesk.BookingPage;

namespace Frontdesk.Waitlist;

/// <summary>The waitlist claim page's HTML, from the booking page's pieces (same look, accessibility and CSP).</summary>
public static class ClaimPages
{
    public static ContentHttpResult Open(ClinicView clinic, Guid slotId, BookedView offered, DateTimeOffset? heldUntil, string token, string csrf,
        string? problem = null, int status = 200)
    {
        var zone = ClinicTime.Zone(clinic.Timezone);
        var held = heldUntil is { } until
            ? Html.Of($"""<p class="note ok" role="status">We're holding this time for you until {ClinicTime.Local(until, zone).ToString("HH:mm", CultureInfo.InvariantCulture)} ({clinic.Timezone}).</p>""")
            : Html.Of($"""<p>This time is still free. Book it now before someone else does.</p>""");
        var problemNote = problem is null ? Html.Empty : Html.Of($"""<p class="note" role="alert">{problem}</p>""");
        return Pages.Page(status, "A time has come up", clinic, Html.Of($"""
            <h1>A time has come up for you</h1>
            {problemNote}
            {held}
            {Pages.Details(clinic, offered)}
            <form method="post" action="{WaitlistClaimToken.PathPrefix + token}">
            <input type="hidden" name="{PageGuard.CsrfField}" value="{csrf}">
            <input type="hidden" name="slot" value="{slotId}">
            <button type="submit">Book this time</button>
            </form>
            <p>Not for you? No need to do anything: when the hold ends we offer the time to the next person on the list.</p>
            """));
    }

    public static ContentHttpResult Taken(ClinicView clinic, BookedView offered, IReadOnlyList<SlotChoice> alternatives, string token, string csrf,
        string? problem = null, int status = 200)
    {
        var choices = alternatives.Count == 0
            ? Html.Of($"""<p>There are no other free times like it just now. You are still on the waiting list, and we'll text you when another time comes up.</p>""")
            : Html.Of($"""
                <p>Pick one of these instead, then confirm. Times are the clinic's local time ({clinic.Timezone}).</p>
                <form method="post" action="{WaitlistClaimToken.PathPrefix + token}">
                <input type="hidden" name="{PageGuard.CsrfField}" value="{csrf}">
                {Pages.TimeChoices(clinic, alternatives, "Nearest free times")}
                <button type="submit">Book this time</button>
                </form>
                """);
        return Pages.Page(status, "This time has been taken", clinic, Html.Of($"""
            <h1>Sorry, this time has been taken</h1>
            <p class="note" role="alert">{problem ?? "Someone else booked this time before you."}</p>
            {Pages.Details(clinic, offered)}
            {choices}
            """));
    }

    public static ContentHttpResult Booked(ClinicView clinic, BookedView booking, string managePath, bool justNow) =>
        Pages.Page(200, "You're booked", clinic, Html.Of($"""
            <h1>You're booked</h1>
            <p class="note ok" role="status">{(justNow ? "Your appointment is confirmed. We've sent the details to your phone by text." : "This appointment is booked for you.")}</p>
            {Pages.Details(clinic, booking)}
            <p>Need to change or cancel? <a href="{managePath}">Manage your appointment</a></p>
            """));
}
