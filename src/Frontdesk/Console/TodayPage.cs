using System.Globalization;
using Frontdesk.BookingPage;
using Frontdesk.Privacy.Detection;

namespace Frontdesk.StaffConsole;

/// <summary>
/// Today: the calls the receptionist took (time, caller, outcome, procedure, sanitized summary), the
/// day's bookings by practitioner, and the follow-ups sent with their delivery.
/// </summary>
public static class TodayPage
{
    public static void Map(RouteGroupBuilder console) => console.MapGet("", Show);

    sealed record CallRow(string CallId, DateTimeOffset At, byte[]? CallerHash, byte[]? Content, string? EndedReason, string? Status,
        Guid? LeadId, byte[]? LeadHash, byte[]? LeadContent, string? Procedure, bool Booked, bool FollowedUp);

    sealed record BookingRow(string Practitioner, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Source, string? PatientName);

    sealed record FollowUpRow(DateTimeOffset At, Guid LeadId, byte[]? LeadHash, byte[]? LeadContent, string Procedure, string? SmsStatus, bool Booked);

    // Calls of the day by when they ended (or started, for a call still in progress). Number, name and
    // summary are sealed under the caller's key (calls.content, leads.content) and opened per row
    // (ConsoleContent); the summary is shown only after sanitizing (ConsoleText.Sanitized).
    const string CallsSql = """
        select c.call_id, coalesce(c.ended_at, c.started_at, c.created_at), c.caller_hash, c.content, c.ended_reason, c.status,
               l.id, l.phone_hash, l.content, coalesce(l.procedure, c.procedure),
               exists (select 1 from bookings b where b.clinic_id = c.clinic_id and b.call_id = c.call_id and b.status = 'confirmed')
                 or l.converted_booking_id is not null,
               l.id is not null
        from calls c
        left join leads l on l.clinic_id = c.clinic_id and l.call_id = c.call_id
        where c.clinic_id = @C and coalesce(c.ended_at, c.started_at, c.created_at) >= @From and coalesce(c.ended_at, c.started_at, c.created_at) < @To
        order by 2 desc
        limit 200
        """;

    const string BookingsSql = """
        select pr.name, b.starts_at, b.ends_at, b.source, p.name
        from bookings b
        join practitioners pr on pr.clinic_id = b.clinic_id and pr.id = b.practitioner_id
        left join patients p on p.clinic_id = b.clinic_id and p.id = b.patient_id
        where b.clinic_id = @C and b.status = 'confirmed' and b.starts_at >= @From and b.starts_at < @To
        order by pr.name, b.starts_at
        """;

    const string FollowUpsSql = """
        select f.created_at, l.id, l.phone_hash, l.content, f.procedure, m.status, l.converted_booking_id is not null
        from lead_followups f
        join leads l on l.clinic_id = f.clinic_id and l.id = f.lead_id
        left join lateral (select status from sms_messages m where m.clinic_id = f.clinic_id and m.followup_id = f.id
                           order by m.created_at desc limit 1) m on true
        where f.clinic_id = @C and f.created_at >= @From and f.created_at < @To
        order by f.created_at desc
        limit 200
        """;

    /// <summary>The clinic-local day [start, end) in UTC, and the day itself.</summary>
    public static (DateOnly Day, DateTimeOffset From, DateTimeOffset To) Day(string? requested, string timezone, TimeProvider clock)
    {
        var zone = ClinicTime.Zone(timezone);
        var today = DateOnly.FromDateTime(ClinicTime.Local(clock.GetUtcNow(), zone).DateTime);
        var day = ClinicTime.TryParseDay(requested, out var d) ? d : today;
        return (day, Start(day, zone), Start(day.AddDays(1), zone));
    }

    public static DateTimeOffset Start(DateOnly day, TimeZoneInfo zone)
    {
        var local = day.ToDateTime(TimeOnly.MinValue);
        return new DateTimeOffset(local, zone.GetUtcOffset(local)).ToUniversalTime();
    }

    static async Task<ContentHttpResult> Show(string? day, HttpContext http, Db db, PiiDetector detector, Frontdesk.Privacy.Vault vault, TimeProvider clock,
        CancellationToken ct)
    {
        var user = ConsoleUser.Of(http);
        var (date, from, to) = Day(day, user.ClinicTimezone, clock);
        var args = new { C = user.ClinicId, From = from, To = to };
        await using var s = await db.BeginAsync(user.Claims, ct);
        var calls = await s.QueryAsync<CallRow>(CallsSql, args, ct);
        var bookings = await s.QueryAsync<BookingRow>(BookingsSql, args, ct);
        var followUps = await s.QueryAsync<FollowUpRow>(FollowUpsSql, args, ct);
        var callContent = new Dictionary<string, (string Caller, string? Summary)>(StringComparer.Ordinal);
        foreach (var c in calls)
        {
            var content = await ConsoleContent.CallAsync(s, vault, user.ClinicId, c.CallerHash, c.CallId, c.Content, ct);
            var lead = await ConsoleContent.LeadAsync(s, vault, user.ClinicId, c.LeadHash, c.LeadId, c.LeadContent, ct);
            callContent[c.CallId] = (ConsoleText.Caller(lead?.Name ?? content?.CustomerName, lead?.Phone ?? content?.CustomerNumber),
                ConsoleText.Sanitized(detector, content?.Summary));
        }
        var followUpCallers = new List<string>();
        foreach (var f in followUps)
        {
            var lead = await ConsoleContent.LeadAsync(s, vault, user.ClinicId, f.LeadHash, f.LeadId, f.LeadContent, ct);
            followUpCallers.Add(ConsoleText.Caller(lead?.Name, lead?.Phone));
        }
        await ConsoleText.ViewedAsync(s, user, "today", null, null, new { day = date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), calls = calls.Count, bookings = bookings.Count, followUps = followUps.Count }, ct);
        await s.CommitAsync(ct);

        var tz = user.ClinicTimezone;
        var isToday = date == Day(null, tz, clock).Day;
        var heading = isToday ? "Today" : date.ToString("dddd d MMMM yyyy", ConsoleLayout.En);
        var callItems = calls.Select(c =>
        {
            var (outcome, kind) = ConsoleText.Outcome(c.EndedReason, c.Status, c.Booked, c.FollowedUp);
            var (caller, summary) = callContent[c.CallId];
            return Html.Of($"""
                <li><p><b>{ConsoleLayout.Local(c.At, tz, "HH:mm")}</b> · {caller} · {ConsoleLayout.Tag(outcome, kind)}{(c.Procedure is null ? Html.Empty : Html.Of($" · {c.Procedure}"))}</p>
                {(summary is null ? Html.Empty : Html.Of($"""<p class="muted">{summary}</p>"""))}</li>
                """);
        }).ToList();
        var byPractitioner = bookings.GroupBy(b => b.Practitioner).Select(g => Html.Of($"""
            <h3>{g.Key}</h3>
            <ul>{g.Select(b => Html.Of($"<li>{ConsoleLayout.Local(b.StartsAt, tz, "HH:mm")}–{ConsoleLayout.Local(b.EndsAt, tz, "HH:mm")} · {ConsoleText.FirstName(b.PatientName)} <span class=\"muted\">({Source(b.Source)})</span></li>"))}</ul>
            """)).ToList();
        var followUpRows = followUps.Select((f, i) =>
        {
            var (delivery, kind) = ConsoleText.Delivery(f.SmsStatus);
            return Html.Of($"""
                <tr><td>{ConsoleLayout.Local(f.At, tz, "HH:mm")}</td><td>{followUpCallers[i]}</td><td>{f.Procedure}</td><td>{ConsoleLayout.Tag(delivery, kind)}</td><td>{(f.Booked ? ConsoleLayout.Tag("Booked", "ok") : Html.Of($"—"))}</td></tr>
                """);
        }).ToList();

        var prev = date.AddDays(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var next = date.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var totpHint = user.Totp ? Html.Empty : Html.Of($"""
            <p class="note info">Two-step sign-in is off for your account. <a href="{ConsoleRoutes.Account}">Turn it on</a> — recommended for everyone who reads patient data.</p>
            """);
        return ConsoleLayout.Page(http, heading, "today", Html.Of($"""
            <h1>{heading}</h1>
            {totpHint}
            <p class="actions"><a href="{ConsoleRoutes.Today}?day={prev}">← Previous day</a>{(isToday ? Html.Empty : Html.Of($"""<a href="{ConsoleRoutes.Today}">Today</a>"""))}<a href="{ConsoleRoutes.Today}?day={next}">Next day →</a></p>
            <div class="grid">
            <section class="card" aria-labelledby="calls-h"><h2 id="calls-h">Calls ({calls.Count})</h2>
            {(calls.Count == 0 ? Html.Of($"<p class=\"muted\">No calls on this day.</p>") : Html.Of($"<ul class=\"items\">{callItems}</ul>"))}
            </section>
            <section class="card" aria-labelledby="bookings-h"><h2 id="bookings-h">Bookings ({bookings.Count})</h2>
            {(bookings.Count == 0 ? Html.Of($"<p class=\"muted\">No bookings on this day.</p>") : Html.Of($"{byPractitioner}"))}
            <p><a href="{ConsoleRoutes.Bookings}?day={date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}">Open the diary</a></p>
            </section>
            </div>
            <section aria-labelledby="fu-h"><h2 id="fu-h">Follow-ups sent ({followUps.Count})</h2>
            {(followUps.Count == 0 ? Html.Of($"<p class=\"muted\">No follow-ups on this day.</p>") : Html.Of($"""
                <div class="scroll"><table><thead><tr><th scope="col">Time</th><th scope="col">To</th><th scope="col">Procedure</th><th scope="col">Delivery</th><th scope="col">Booked</th></tr></thead>
                <tbody>{followUpRows}</tbody></table></div>
                """))}
            </section>
            """));
    }

    public static string Source(string source) => source switch
    {
        "vapi" or "voice" => "by phone",
        "sms_link" => "from the SMS link",
        "api" => "by staff",
        "console" => "by staff",
        var s => s,
    };
}
