using Frontdesk.BookingPage;

namespace Frontdesk.Manage;

/// <summary>The manage page's HTML, built from the booking page's pieces (layout, stylesheet, booking
/// details, the time picker): same look, same accessibility, same CSP.</summary>
public static class ManagePages
{
    /// <summary>The booking, a time picker to move it, and the way to cancel it.</summary>
    public static ContentHttpResult Manage(ClinicView clinic, BookedView booking, string token, string csrf, IReadOnlyList<SlotChoice> slots,
        string? notice = null, string? problem = null, string legend = "Choose a new time", int status = 200)
    {
        var path = ManageLinkToken.PathPrefix + token;
        var noticeNote = notice is null ? Html.Empty : Html.Of($"""<p class="note ok" role="status">{notice}</p>""");
        var problemNote = problem is null ? Html.Empty : Html.Of($"""<p class="note" role="alert">{problem}</p>""");
        var move = slots.Count == 0
            ? Html.Of($"""<p>There are no other free times for this appointment in the next few weeks. Please call us if this time no longer suits you.</p>""")
            : Html.Of($"""
                <p>Pick a new time, then confirm. Times are the clinic's local time ({clinic.Timezone}).</p>
                <form method="post" action="{path}/move">
                <input type="hidden" name="{PageGuard.CsrfField}" value="{csrf}">
                {Pages.TimeChoices(clinic, slots, legend)}
                <button type="submit">Move my appointment</button>
                </form>
                """);
        return Pages.Page(status, "Your appointment", clinic, Html.Of($"""
            <h1>Your appointment</h1>
            {noticeNote}
            {problemNote}
            {Pages.Details(clinic, booking)}
            <h2>Change the time</h2>
            {move}
            <h2>Can't come at all?</h2>
            <p><a href="{path}/cancel">Cancel this appointment</a></p>
            """));
    }
}
