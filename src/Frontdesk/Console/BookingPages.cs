using System.Globalization;
using Frontdesk.Booking;
using Frontdesk.BookingPage;

namespace Frontdesk.StaffConsole;

/// <summary>
/// The diary: a day per practitioner (every slot free, held, booked or busy in the linked calendar,
/// with move and cancel on booked ones) and a week of counts. Moves and cancellations go through
/// the API's handlers (SlotEngine: one transaction, the database decides the race).
/// </summary>
public static class BookingPages
{
    public static void Map(RouteGroupBuilder console)
    {
        console.MapGet("/bookings", Show);
        console.MapPost("/bookings/{bookingId:guid}/cancel", Cancel);
        console.MapPost("/bookings/{bookingId:guid}/move", Move);
        console.MapPost("/bookings/{bookingId:guid}/attendance", Attendance);
    }

    sealed record Practitioner(Guid Id, string Name);

    sealed record SlotRow(Guid Id, Guid PractitionerId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, bool Busy, bool Claimed, bool Held,
        Guid? BookingId, string? PatientName, string? Source, string? Attendance);

    enum SlotState { Free, Held, Booked, Busy }

    static SlotState State(SlotRow s) => s.BookingId is not null || s.Claimed ? SlotState.Booked : s.Held ? SlotState.Held : s.Busy ? SlotState.Busy : SlotState.Free;

    static (string Text, string Class) Label(SlotState s) => s switch
    {
        SlotState.Free => ("Free", "slot-free"),
        SlotState.Held => ("Held", "slot-held"),
        SlotState.Booked => ("Booked", "slot-booked"),
        _ => ("Busy in calendar", "slot-busy"),
    };

    const string SlotsSql = """
        select s.id, s.practitioner_id, s.starts_at, s.ends_at, s.busy, s.claimed_by is not null,
               s.hold_expires_at is not null and s.hold_expires_at > now(), b.id, p.name, b.source,
               b.attendance
        from calendar_slots s
        left join bookings b on b.clinic_id = s.clinic_id and b.slot_id = s.id and b.status <> 'cancelled'
        left join patients p on p.clinic_id = b.clinic_id and p.id = b.patient_id
        where s.clinic_id = @C and s.starts_at >= @From and s.starts_at < @To
          and (@P::uuid is null or s.practitioner_id = @P)
        order by s.starts_at
        limit 2000
        """;

    static Task<ContentHttpResult> Show(string? day, string? view, Guid? practitioner, HttpContext http, Db db, TimeProvider clock, CancellationToken ct) =>
        Render(http, db, clock, day, view, practitioner, 200, null, ct);

    static async Task<ContentHttpResult> Render(HttpContext http, Db db, TimeProvider clock, string? day, string? view, Guid? practitioner,
        int status, string? problem, CancellationToken ct)
    {
        var user = ConsoleUser.Of(http);
        var week = view == "week";
        var (date, _, _) = TodayPage.Day(day, user.ClinicTimezone, clock);
        var zone = ClinicTime.Zone(user.ClinicTimezone);
        var first = week ? date.AddDays(-(((int)date.DayOfWeek + 6) % 7)) : date;
        var days = week ? 7 : 1;
        var from = TodayPage.Start(first, zone);
        var to = TodayPage.Start(first.AddDays(days), zone);

        IReadOnlyList<Practitioner> practitioners;
        IReadOnlyList<SlotRow> slots;
        await using (var s = await db.BeginAsync(user.Claims, ct))
        {
            practitioners = await s.QueryAsync<Practitioner>("select id, name from practitioners where clinic_id = @C order by name", new { C = user.ClinicId }, ct);
            slots = await s.QueryAsync<SlotRow>(SlotsSql, new { C = user.ClinicId, From = from, To = to, P = practitioner }, ct);
            await ConsoleText.ViewedAsync(s, user, "bookings", null, null, new { view = week ? "week" : "day", booked = slots.Count(x => x.BookingId is not null) }, ct);
            await s.CommitAsync(ct);
        }

        var iso = date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var step = week ? 7 : 1;
        string Link(DateOnly d, string v) => $"{ConsoleRoutes.Bookings}?day={d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}&view={v}" +
                                              (practitioner is { } p ? "&practitioner=" + p : "");
        var filters = Html.Of($"""
            <form method="get" action="{ConsoleRoutes.Bookings}" class="filters">
            <div><label for="day">Day</label><input id="day" name="day" type="date" value="{iso}"></div>
            <div><label for="view">View</label><select id="view" name="view"><option value="day"{Sel(!week)}>Day</option><option value="week"{Sel(week)}>Week</option></select></div>
            <div><label for="practitioner">Practitioner</label><select id="practitioner" name="practitioner"><option value="">Everyone</option>
            {practitioners.Select(p => Html.Of($"<option value=\"{p.Id}\"{Sel(p.Id == practitioner)}>{p.Name}</option>"))}</select></div>
            <div><button type="submit">Show</button></div>
            </form>
            <p class="actions"><a href="{Link(date.AddDays(-step), week ? "week" : "day")}">← Earlier</a><a href="{Link(date.AddDays(step), week ? "week" : "day")}">Later →</a></p>
            """);
        var shown = practitioners.Where(p => practitioner is null || p.Id == practitioner).ToList();
        Html body;
        if (week)
        {
            var dates = Enumerable.Range(0, 7).Select(first.AddDays).ToList();
            body = Html.Of($"""
                <div class="scroll"><table><caption>Week of {first.ToString("d MMMM yyyy", ConsoleLayout.En)}: booked / free slots</caption>
                <thead><tr><th scope="col">Practitioner</th>{dates.Select(d => Html.Of($"<th scope=\"col\"><a href=\"{Link(d, "day")}\">{d.ToString("ddd d", ConsoleLayout.En)}</a></th>"))}</tr></thead>
                <tbody>{shown.Select(p => Html.Of($"""
                    <tr><th scope="row">{p.Name}</th>{dates.Select(d =>
                    {
                        var daySlots = slots.Where(x => x.PractitionerId == p.Id && DateOnly.FromDateTime(ClinicTime.Local(x.StartsAt, zone).DateTime) == d).ToList();
                        var booked = daySlots.Count(x => State(x) == SlotState.Booked);
                        var free = daySlots.Count(x => State(x) == SlotState.Free);
                        var other = daySlots.Count - booked - free;
                        return daySlots.Count == 0 ? Html.Of($"<td class=\"muted\">—</td>")
                            : Html.Of($"<td><span class=\"slot-booked\">{booked} booked</span><br><span class=\"slot-free\">{free} free</span>{(other > 0 ? Html.Of($"<br><span class=\"slot-busy\">{other} held/busy</span>") : Html.Empty)}</td>");
                    })}</tr>
                    """))}</tbody></table></div>
                """);
        }
        else
        {
            var csrf = ConsoleLayout.CsrfField(http);
            var freeSlots = slots.Where(x => State(x) == SlotState.Free && x.StartsAt > clock.GetUtcNow()).ToList();
            body = Html.Of($"""
                {shown.Select(p =>
                {
                    var mine = slots.Where(x => x.PractitionerId == p.Id).ToList();
                    return Html.Of($"""
                        <section aria-labelledby="p-{p.Id}"><h2 id="p-{p.Id}">{p.Name}</h2>
                        {(mine.Count == 0 ? Html.Of($"<p class=\"muted\">No slots on this day.</p>") : Html.Of($"""
                            <div class="scroll"><table><thead><tr><th scope="col">Time</th><th scope="col">State</th><th scope="col">Patient</th><th scope="col">Actions</th></tr></thead><tbody>
                            {mine.Select(x => Row(x, user.ClinicTimezone, csrf, freeSlots, practitioners, clock.GetUtcNow()))}
                            </tbody></table></div>
                            """))}
                        </section>
                        """);
                })}
                """);
        }
        var heading = week ? "Bookings this week" : "Bookings · " + date.ToString("dddd d MMMM", ConsoleLayout.En);
        return ConsoleLayout.Page(http, heading, "bookings", Html.Of($"""
            <h1>{heading}</h1>
            {ConsoleLayout.Problem(problem)}
            {filters}
            {body}
            """), status);
    }

    static Html Sel(bool selected) => selected ? Html.Constant(" selected") : Html.Empty;

    static Html Row(SlotRow x, string tz, Html csrf, IReadOnlyList<SlotRow> freeSlots, IReadOnlyList<Practitioner> practitioners, DateTimeOffset now)
    {
        var state = State(x);
        var (label, css) = Label(state);
        // Once the appointment has started, staff record a no-show (the attendance API's rule); a mark can be corrected.
        var attendance = x.BookingId is { } booked && x.StartsAt <= now
            ? Html.Of($"""
                <form method="post" action="{ConsoleRoutes.Bookings}/{booked}/attendance" class="actions">{csrf}{(x.Attendance == AttendanceEndpoints.DidNotArrive
                    ? Html.Of($"""<input type="hidden" name="attended" value="true"><button type="submit" class="secondary">Mark arrived</button>""")
                    : Html.Of($"""<input type="hidden" name="attended" value="false"><button type="submit" class="secondary">Did not arrive</button>"""))}</form>
                """)
            : Html.Empty;
        var actions = x.BookingId is { } id
            ? Html.Of($"""
                {attendance}
                <details><summary>Move or cancel</summary>
                <form method="post" action="{ConsoleRoutes.Bookings}/{id}/move" class="stack">{csrf}
                <div><label for="to-{id}">Move to</label><select id="to-{id}" name="slot" required><option value="">Choose a free time</option>
                {freeSlots.Take(60).Select(f => Html.Of($"<option value=\"{f.Id}\">{ConsoleLayout.Local(f.StartsAt, tz, "HH:mm")} · {practitioners.FirstOrDefault(p => p.Id == f.PractitionerId)?.Name}</option>"))}</select></div>
                <div class="actions"><button type="submit" class="secondary">Move</button></div></form>
                <form method="post" action="{ConsoleRoutes.Bookings}/{id}/cancel" class="actions">{csrf}<button type="submit" class="danger">Cancel booking</button></form>
                </details>
                """)
            : Html.Empty;
        return Html.Of($"""
            <tr><td>{ConsoleLayout.Local(x.StartsAt, tz, "HH:mm")}–{ConsoleLayout.Local(x.EndsAt, tz, "HH:mm")}</td><td class="{css}">{label}{(x.Attendance == AttendanceEndpoints.DidNotArrive ? Html.Of($" {ConsoleLayout.Tag("Did not arrive", "bad")}") : x.Attendance == AttendanceEndpoints.Attended ? Html.Of($" {ConsoleLayout.Tag("Arrived", "ok")}") : Html.Empty)}</td>
            <td>{(state == SlotState.Booked ? Html.Of($"{ConsoleText.FirstName(x.PatientName)}{(x.Source is null ? "" : " (" + TodayPage.Source(x.Source) + ")")}") : Html.Empty)}</td><td>{actions}</td></tr>
            """);
    }

    static async Task<string> DayOfAsync(Db db, ConsoleUser user, Guid bookingId, CancellationToken ct) =>
        (await db.QueryOnceAsync<DateTimeOffset>(user.Claims, "select starts_at from bookings where clinic_id = @C and id = @B",
            new { C = user.ClinicId, B = bookingId }, ct)) is [var at]
            ? ConsoleLayout.Local(at, user.ClinicTimezone, "yyyy-MM-dd")
            : "";

    static async Task<IResult> Cancel(Guid bookingId, HttpContext http, ConsoleForms forms, Db db, TimeProvider clock, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is null) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        var day = await DayOfAsync(db, user, bookingId, ct);
        var result = await BookingEndpoints.Cancel(user.ClinicId, bookingId, http, db, ct);
        return result.Result is NoContent
            ? TypedResults.Redirect($"{ConsoleRoutes.Bookings}?day={day}&done=cancelled")
            : await Render(http, db, clock, day, null, null, 404, "That booking is not in your clinic's diary (or is already cancelled).", ct);
    }

    static async Task<IResult> Move(Guid bookingId, HttpContext http, ConsoleForms forms, Db db, TimeProvider clock, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        var day = await DayOfAsync(db, user, bookingId, ct);
        if (form.Id("slot") is not { } slotId)
            return await Render(http, db, clock, day, null, null, 400, "Choose the free time to move the booking to.", ct);
        var result = await BookingEndpoints.Move(user.ClinicId, bookingId, new MoveBooking(slotId), http, db, ct);
        return result.Result switch
        {
            Ok<BookingView> { Value: { } moved } => TypedResults.Redirect($"{ConsoleRoutes.Bookings}?day={ConsoleLayout.Local(moved.StartsAt, user.ClinicTimezone, "yyyy-MM-dd")}&done=moved"),
            Conflict<SlotTakenBody> => await Render(http, db, clock, day, null, null, 409, "That time was just taken. Choose another.", ct),
            ProblemHttpResult p => await Render(http, db, clock, day, null, null, p.StatusCode, p.ProblemDetails.Title, ct),
            _ => await Render(http, db, clock, day, null, null, 404, "That booking is not in your clinic's diary.", ct),
        };
    }

    static async Task<IResult> Attendance(Guid bookingId, HttpContext http, ConsoleForms forms, Db db, TimeProvider clock, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        var day = await DayOfAsync(db, user, bookingId, ct);
        if (form.Raw("attended") is not ("true" or "false"))
            return await Render(http, db, clock, day, null, null, 400, "Say whether the patient arrived.", ct);
        var result = await AttendanceEndpoints.Mark(user.ClinicId, bookingId, new AttendanceMark(form.Raw("attended") == "true"), http, db, ct);
        return result.Result switch
        {
            Ok<BookingView> => TypedResults.Redirect($"{ConsoleRoutes.Bookings}?day={day}&done=attendance"),
            ProblemHttpResult { StatusCode: 404 } => await Render(http, db, clock, day, null, null, 404, "That booking is not in your clinic's diary.", ct),
            ProblemHttpResult p => await Render(http, db, clock, day, null, null, p.StatusCode, p.ProblemDetails.Detail ?? p.ProblemDetails.Title, ct),
            _ => await Render(http, db, clock, day, null, null, 404, "That booking is not in your clinic's diary.", ct),
        };
    }
}
