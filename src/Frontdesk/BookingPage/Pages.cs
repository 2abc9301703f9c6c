using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Frontdesk.BookingPage;

public sealed record ClinicView(string Name, string Timezone, string? Address, string? Phone);

public sealed record SlotChoice(Guid Id, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Practitioner);

public sealed record BookedView(Guid BookingId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Practitioner, string Procedure);

/// <summary>
/// The booking page's HTML: server-rendered, no script, one stylesheet inline (allowed by its hash
/// in the CSP). Built for a 360 px phone first: one column, 48 px tap targets, a radio group per
/// day inside one fieldset, visible focus, text contrast of at least 4.5:1.
/// </summary>
public static class Pages
{
    const string Style = """
        *{box-sizing:border-box}
        body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1b1b1b;background:#f5f6f8}
        main{max-width:34rem;margin:0 auto;padding:1rem 1rem 2rem;overflow-wrap:anywhere}
        .clinic{margin:.25rem 0 0;font-weight:600;color:#374151}
        h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 .75rem}
        h2{font-size:1.1875rem;line-height:1.3;margin:1.75rem 0 .5rem}
        p{margin:.5rem 0}
        fieldset{border:0;margin:0;padding:0;min-width:0}
        legend{padding:0;font-weight:700}
        .times>legend{font-size:1.125rem;margin-bottom:.25rem}
        .day{margin-top:1rem}
        .day>legend{margin-bottom:.5rem;color:#1b1b1b}
        .slots{display:grid;grid-template-columns:repeat(auto-fill,minmax(9.5rem,1fr));gap:.5rem}
        .slot{display:flex;align-items:center;gap:.625rem;min-height:3rem;padding:.5rem .75rem;background:#fff;border:2px solid #6b7280;border-radius:.5rem;cursor:pointer}
        .slot input{flex:none;width:1.25rem;height:1.25rem;margin:0;accent-color:#0b57d0}
        .slot:has(input:checked){border-color:#0b57d0;background:#e8f0fe}
        .slot b{display:block;font-size:1.0625rem}
        .slot small{display:block;color:#4b5563;font-size:.8125rem}
        button{display:block;width:100%;min-height:3rem;margin:1.5rem 0 1rem;padding:.75rem 1rem;font:inherit;font-weight:700;color:#fff;background:#0b57d0;border:0;border-radius:.5rem;cursor:pointer}
        button.danger{background:#b91c1c}
        a{color:#0b57d0}
        a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid #b45309;outline-offset:2px}
        .note{border-left:4px solid #b91c1c;background:#fef2f2;padding:.75rem 1rem;margin:1rem 0}
        .note.ok{border-left-color:#15803d;background:#f0fdf4}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:.375rem 1rem;margin:1rem 0;padding:1rem;background:#fff;border-radius:.5rem}
        dt{font-weight:700}
        dd{margin:0;overflow-wrap:anywhere}
        footer{margin-top:2rem;padding-top:1rem;border-top:1px solid #d1d5db;color:#374151}
        """;

    /// <summary>The CSP source for <see cref="Style"/>.</summary>
    public static readonly string StyleHash = "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(Style)));

    static readonly CultureInfo En = CultureInfo.InvariantCulture;

    static Html Layout(string title, ClinicView? clinic, Html body) => Html.Of($"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <meta name="robots" content="noindex">
        <title>{(clinic is null ? title : title + " · " + clinic.Name)}</title>
        <style>{Html.Constant(Style)}</style>
        </head>
        <body>
        <main>
        {(clinic is null ? Html.Empty : Html.Of($"<p class=\"clinic\">{clinic.Name}</p>"))}
        {body}
        {Footer(clinic)}
        </main>
        </body>
        </html>
        """);

    static Html Footer(ClinicView? clinic) => clinic switch
    {
        { Phone: { } phone } => Html.Of($"""<footer><p>Questions or prefer to talk? Call {clinic.Name} on <a href="tel:{Tel(phone)}">{phone}</a>.</p></footer>"""),
        null => Html.Empty,
        _ => Html.Of($"<footer><p>Questions? Please call {clinic.Name}.</p></footer>"),
    };

    static string Tel(string phone) => new(phone.Where(c => char.IsDigit(c) || c == '+').ToArray());

    /// <summary>The slot choice: one radio group (fieldset), a nested fieldset per day, one confirm button.</summary>
    public static ContentHttpResult Choose(ClinicView clinic, string procedure, string? patientName, string action, string csrf,
        IReadOnlyList<SlotChoice> slots, string? problem = null, string legend = "Choose a time", int status = 200, string? unavailable = null)
    {
        var greeting = string.IsNullOrWhiteSpace(patientName) ? "Hi there" : "Hi " + patientName.Trim();
        var problemNote = problem is null ? Html.Empty : Html.Of($"""<p class="note" role="alert">{problem}</p>""");
        var body = slots.Count == 0
            ? Html.Of($"""
                <h1>Book your {procedure} consultation</h1>
                {problemNote}
                <p>{unavailable ?? "Sorry, there are no free consultation times in the next two weeks."}</p>
                <p>Please call us and we will find a time that suits you.</p>
                """)
            : Html.Of($"""
                <h1>Book your {procedure} consultation</h1>
                {problemNote}
                <p>{greeting}, pick a time that suits you, then confirm. Times are the clinic's local time ({clinic.Timezone}).</p>
                <form method="post" action="{action}">
                <input type="hidden" name="{PageGuard.CsrfField}" value="{csrf}">
                {TimeChoices(clinic, slots, legend)}
                <button type="submit">Confirm booking</button>
                </form>
                """);
        return Page(status, "Book your consultation", clinic, body);
    }

    /// <summary>Free times as one radio group named <c>slot</c>: a fieldset with <paramref name="legend"/>, a nested
    /// fieldset per day in the clinic's time (shared by every page that offers times).</summary>
    internal static Html TimeChoices(ClinicView clinic, IReadOnlyList<SlotChoice> slots, string legend)
    {
        var zone = ClinicTime.Zone(clinic.Timezone);
        var days = slots.GroupBy(s => ClinicTime.Local(s.StartsAt, zone).Date).Select(day => Html.Of($"""
            <fieldset class="day">
            <legend>{day.Key.ToString("dddd d MMMM", En)}</legend>
            <div class="slots">
            {day.Select(s => Html.Of($"""
                <label class="slot"><input type="radio" name="slot" value="{s.Id}" required><span><b>{ClinicTime.Local(s.StartsAt, zone).ToString("HH:mm", En)}</b><small>{s.Practitioner}</small></span></label>
                """))}
            </div>
            </fieldset>
            """));
        return Html.Of($"""
            <fieldset class="times">
            <legend>{legend}</legend>
            {days}
            </fieldset>
            """);
    }

    internal static Html Details(ClinicView clinic, BookedView b)
    {
        var zone = ClinicTime.Zone(clinic.Timezone);
        var start = ClinicTime.Local(b.StartsAt, zone);
        var end = ClinicTime.Local(b.EndsAt, zone);
        return Html.Of($"""
            <dl>
            <dt>What</dt><dd>{(string.IsNullOrEmpty(b.Procedure) ? "Consultation" : b.Procedure + " consultation")}</dd>
            <dt>Date</dt><dd>{start.ToString("dddd d MMMM yyyy", En)}</dd>
            <dt>Time</dt><dd>{start.ToString("HH:mm", En)}–{end.ToString("HH:mm", En)} ({clinic.Timezone})</dd>
            <dt>With</dt><dd>{b.Practitioner}</dd>
            <dt>Where</dt><dd>{clinic.Name}{(clinic.Address is null ? "" : ", " + clinic.Address)}</dd>
            </dl>
            """);
    }

    public static ContentHttpResult Booked(ClinicView clinic, BookedView b, string cancelPath, bool texted) => Page(200, "You're booked", clinic, Html.Of($"""
        <h1>You're booked</h1>
        <p class="note ok" role="status">Your consultation is confirmed.{(texted ? " We've sent the details to your phone by text." : " Please keep a note of it.")}</p>
        {Details(clinic, b)}
        <p>Can't make it? <a href="{cancelPath}">Cancel this booking</a></p>
        """));

    public static ContentHttpResult ConfirmCancel(ClinicView clinic, BookedView b, string action, string csrf) => Page(200, "Cancel your booking", clinic, Html.Of($"""
        <h1>Cancel your booking?</h1>
        {Details(clinic, b)}
        <form method="post" action="{action}">
        <input type="hidden" name="{PageGuard.CsrfField}" value="{csrf}">
        <button type="submit" class="danger">Yes, cancel my booking</button>
        </form>
        <p>To keep your booking, just close this page.</p>
        """));

    public static ContentHttpResult Cancelled(ClinicView clinic, BookedView b, string? bookAgainPath, bool justNow) => Page(200, "Booking cancelled", clinic, Html.Of($"""
        <h1>{(justNow ? "Your booking is cancelled" : "This booking is already cancelled")}</h1>
        <p class="note ok" role="status">The time below is free again for other patients.</p>
        {Details(clinic, b)}
        {(bookAgainPath is null ? Html.Empty : Html.Of($"""<p><a href="{bookAgainPath}">Choose another time</a></p>"""))}
        """));

    /// <summary>A friendly page for anything that went wrong: never a stack trace, the clinic's number when we know the clinic.</summary>
    public static ContentHttpResult Error(int status, string title, string message, ClinicView? clinic) => Page(status, title, clinic, Html.Of($"""
        <h1>{title}</h1>
        <p>{message}</p>
        {(clinic is { Phone: { } phone } ? Html.Of($"""<p>Please call {clinic.Name} on <a href="tel:{Tel(phone)}">{phone}</a> to book.</p>""") : Html.Empty)}
        """));

    internal static ContentHttpResult Page(int status, string title, ClinicView? clinic, Html body) =>
        TypedResults.Content(Layout(title, clinic, body).ToString(), "text/html; charset=utf-8", Encoding.UTF8, status);
}
