using System.Globalization;
using Frontdesk.BookingPage;
using Frontdesk.Latency;
using Frontdesk.Stats;

namespace Frontdesk.StaffConsole;

/// <summary>
/// Reports for a date range: the follow-up funnel (calls → follow-ups → delivered → booked) and the
/// caller's time to first byte from Vapi's turn latencies (the API's latency report), as SVG drawn
/// on the server — presentation attributes only, so the strict CSP holds — with the numbers beside.
/// </summary>
public static class ReportsPage
{
    public static void Map(RouteGroupBuilder console) => console.MapGet("/reports", Show);

    sealed record Funnel(int Calls, int FollowUps, int Delivered, int Booked);

    sealed record Bin(int Index, int Turns);

    const int BinMs = 100, Bins = 16;   // 0–1,500 ms in 100 ms steps, the last bin open-ended

    static async Task<ContentHttpResult> Show(string? from, string? to, HttpContext http, Db db, TimeProvider clock, CancellationToken ct)
    {
        var user = ConsoleUser.Of(http);
        var zone = ClinicTime.Zone(user.ClinicTimezone);
        var today = TodayPage.Day(null, user.ClinicTimezone, clock).Day;
        var last = Parse(to) ?? today;
        var firstDay = Parse(from) ?? last.AddDays(-29);
        string? problem = null;
        if (firstDay > last)
        {
            firstDay = last.AddDays(-29);
            problem = "The start was after the end; showing the 30 days up to the end instead.";
        }
        if (last.DayNumber - firstDay.DayNumber > 366)
        {
            firstDay = last.AddDays(-366);
            problem = "Reports cover at most a year; showing the last year of the range.";
        }
        var start = TodayPage.Start(firstDay, zone);
        var end = TodayPage.Start(last.AddDays(1), zone);
        var args = new { C = user.ClinicId, From = start, To = end };

        var funnel = (await db.QueryOnceAsync<Funnel>(user.Claims, """
            select
              (select count(*) from calls where clinic_id = @C and coalesce(ended_at, started_at, created_at) >= @From
                                            and coalesce(ended_at, started_at, created_at) < @To)::int,
              (select count(*) from lead_followups where clinic_id = @C and created_at >= @From and created_at < @To)::int,
              (select count(*) from lead_followups f where f.clinic_id = @C and f.created_at >= @From and f.created_at < @To
                  and exists (select 1 from sms_messages m where m.clinic_id = f.clinic_id and m.followup_id = f.id and m.status = 'delivered'))::int,
              (select count(*) from lead_followups f join leads l on l.clinic_id = f.clinic_id and l.id = f.lead_id
                where f.clinic_id = @C and f.created_at >= @From and f.created_at < @To and l.converted_booking_id is not null)::int
            """, args, ct))[0];
        var bins = await db.QueryOnceAsync<Bin>(user.Claims, $"""
            select least(floor(turn_ms / {BinMs}), {Bins - 1})::int, count(*)::int from call_turn_latencies
            where clinic_id = @C and turn_ms is not null and call_ended_at >= @From and call_ended_at < @To
            group by 1 order by 1
            """, args, ct);
        ClinicStatsView? stats;
        await using (var s = await db.BeginAsync(user.Claims, ct))
            stats = await ClinicStats.ComputeAsync(s, user.ClinicId, new StatsRange(start, end), ct);
        var latency = (await TurnLatencyRecorder.Report(user.ClinicId, start, end, http, db, ct)).Result as Ok<LatencyReport>;

        var range = $"{firstDay.ToString("d MMM yyyy", ConsoleLayout.En)} – {last.ToString("d MMM yyyy", ConsoleLayout.En)}";
        return ConsoleLayout.Page(http, "Reports", "reports", Html.Of($"""
            <h1>Reports</h1>
            {ConsoleLayout.Problem(problem)}
            <form method="get" action="{ConsoleRoutes.Reports}" class="filters">
            <div><label for="from">From</label><input id="from" name="from" type="date" value="{Iso(firstDay)}"></div>
            <div><label for="to">To</label><input id="to" name="to" type="date" value="{Iso(last)}"></div>
            <div><button type="submit">Show</button></div>
            </form>
            <div class="grid">
            {StatsCard(stats, range)}
            <section class="card" aria-labelledby="funnel-h"><h2 id="funnel-h">Follow-up funnel</h2>
            <p class="muted">{range}</p>
            {FunnelChart(funnel)}
            <dl class="facts"><dt>Calls</dt><dd>{funnel.Calls}</dd><dt>Follow-ups sent</dt><dd>{funnel.FollowUps}</dd>
            <dt>Delivered</dt><dd>{funnel.Delivered}{Percent(funnel.Delivered, funnel.FollowUps)}</dd><dt>Booked from a follow-up</dt><dd>{funnel.Booked}{Percent(funnel.Booked, funnel.FollowUps)}</dd></dl>
            </section>
            <section class="card" aria-labelledby="ttfb-h"><h2 id="ttfb-h">Caller's wait for a reply</h2>
            <p class="muted">Time from the caller finishing speaking to the receptionist's first sound, per turn (Vapi's turn latency), {range}.</p>
            {LatencyChart(bins, latency?.Value)}
            {LatencyFacts(latency?.Value)}
            </section>
            </div>
            """));
    }

    /// <summary>The API's stats (GET …/stats, <see cref="ClinicStats"/>) for the same range.</summary>
    static Html StatsCard(ClinicStatsView? s, string range) => s is null ? Html.Empty : Html.Of($"""
        <section class="card" aria-labelledby="stats-h"><h2 id="stats-h">In numbers</h2>
        <p class="muted">{range}</p>
        <dl class="facts"><dt>Calls</dt><dd>{s.Calls}</dd>
        <dt>Booked by phone</dt><dd>{s.Bookings.Voice}</dd>
        <dt>Booked from a follow-up link</dt><dd>{s.Bookings.SmsLink}</dd>
        <dt>Moved or cancelled by the patient online</dt><dd>{s.Bookings.ManageLink}</dd>
        <dt>Booked from the waitlist</dt><dd>{s.Bookings.Waitlist}</dd>
        <dt>Booked by staff</dt><dd>{s.Bookings.Staff}</dd>
        <dt>Follow-ups sent</dt><dd>{s.FollowUps.Sent}</dd>
        <dt>…that led to a booking</dt><dd>{s.FollowUps.Booked}{Percent(s.FollowUps.Booked, s.FollowUps.Sent)}</dd>
        <dt>Reminders sent</dt><dd>{s.Reminders.Sent}</dd>
        <dt>Confirmed by reply</dt><dd>{s.Reminders.Confirmed}</dd>
        <dt>Did not arrive</dt><dd>{s.NoShows}</dd>
        <dt>Freed times refilled</dt><dd>{s.WaitlistRefills}</dd></dl>
        </section>
        """);

    static DateOnly? Parse(string? s) => ClinicTime.TryParseDay(s, out var d) ? d : null;

    static string Iso(DateOnly d) => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    static string Percent(int part, int whole) => whole == 0 ? "" : $" ({100.0 * part / whole:0}%)".Replace(",", ".", StringComparison.Ordinal);

    static string N(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

    /// <summary>Horizontal bars, one per stage, scaled to the calls; labels inside the drawing so it reads on a phone.</summary>
    static Html FunnelChart(Funnel f)
    {
        (string Label, int Value, string Color)[] stages =
            [("Calls", f.Calls, "#1e3a8a"), ("Follow-ups", f.FollowUps, "#1d4ed8"), ("Delivered", f.Delivered, "#0f766e"), ("Booked", f.Booked, "#15803d")];
        var max = Math.Max(1, stages.Max(s => s.Value));
        const double width = 320, labelW = 90, barMax = 190, rowH = 34;
        var bars = stages.Select((s, i) =>
        {
            var y = 10 + i * rowH;
            var w = Math.Max(s.Value > 0 ? 2 : 0, barMax * s.Value / max);
            return Html.Of($"""
                <text x="0" y="{N(y + 17)}" font-size="13" fill="#1f2937">{s.Label}</text>
                <rect x="{N(labelW)}" y="{N(y)}" width="{N(w)}" height="24" rx="3" fill="{s.Color}"></rect>
                <text x="{N(labelW + w + 6)}" y="{N(y + 17)}" font-size="13" font-weight="700" fill="#111827">{s.Value}</text>
                """);
        });
        return Html.Of($"""
            <svg class="chart" viewBox="0 0 {N(width)} {N(10 + stages.Length * rowH)}" role="img" aria-labelledby="funnel-t" xmlns="http://www.w3.org/2000/svg">
            <title id="funnel-t">Follow-up funnel: {f.Calls} calls, {f.FollowUps} follow-ups, {f.Delivered} delivered, {f.Booked} booked</title>
            {bars}
            </svg>
            """);
    }

    /// <summary>A histogram of turn latency in 100 ms bins, the 700 ms target and p50/p95 marked.</summary>
    static Html LatencyChart(IReadOnlyList<Bin> bins, LatencyReport? report)
    {
        var total = bins.Sum(b => b.Turns);
        if (total == 0) return Html.Of($"""<p class="muted">No turn latencies in this range yet: they arrive with Vapi's end-of-call reports.</p>""");
        const double width = 320, height = 180, left = 34, bottom = 150, top = 12, plotW = 276;
        var counts = new int[Bins];
        foreach (var b in bins) counts[Math.Clamp(b.Index, 0, Bins - 1)] = b.Turns;
        var max = Math.Max(1, counts.Max());
        var barW = plotW / Bins;
        double X(double ms) => left + Math.Min(ms, Bins * BinMs) / (Bins * BinMs) * plotW;
        var bars = counts.Select((c, i) =>
        {
            var h = (bottom - top) * c / max;
            var slow = i * BinMs >= 800;
            return Html.Of($"""<rect x="{N(left + i * barW + 1)}" y="{N(bottom - h)}" width="{N(barW - 2)}" height="{N(h)}" fill="{(slow ? "#b91c1c" : "#1d4ed8")}"></rect>""");
        });
        var ticks = Enumerable.Range(0, 4).Select(i => i * 500).Select(ms => Html.Of($"""
            <text x="{N(X(ms))}" y="{N(bottom + 16)}" font-size="11" text-anchor="middle" fill="#374151">{(ms == 1500 ? "1.5 s+" : ms + " ms")}</text>
            """));
        Html Marker(double? ms, string label, string color, double dy) => ms is { } v
            ? Html.Of($"""
                <line x1="{N(X(v))}" y1="{N(top)}" x2="{N(X(v))}" y2="{N(bottom)}" stroke="{color}" stroke-width="2" stroke-dasharray="4 3"></line>
                <text x="{N(Math.Min(X(v) + 4, width - 40))}" y="{N(top + dy)}" font-size="11" font-weight="700" fill="{color}">{label}</text>
                """)
            : Html.Empty;
        return Html.Of($"""
            <svg class="chart" viewBox="0 0 {N(width)} {N(height)}" role="img" aria-labelledby="ttfb-t" xmlns="http://www.w3.org/2000/svg">
            <title id="ttfb-t">Distribution of {total} turn latencies in 100 ms steps{(report?.P95 is { } p95 ? $"; p95 {N(p95)} ms" : "")}</title>
            <line x1="{N(left)}" y1="{N(bottom)}" x2="{N(left + plotW)}" y2="{N(bottom)}" stroke="#6b7280"></line>
            <text x="{N(left - 4)}" y="{N(top + 8)}" font-size="11" text-anchor="end" fill="#374151">{max}</text>
            <text x="{N(left - 4)}" y="{N(bottom)}" font-size="11" text-anchor="end" fill="#374151">0</text>
            {bars}
            {ticks}
            {Marker(700, "700 ms goal", "#78350f", 10)}
            {Marker(report?.P50, "p50", "#111827", 24)}
            {Marker(report?.P95, "p95", "#7f1d1d", 38)}
            </svg>
            """);
    }

    static Html LatencyFacts(LatencyReport? r) => r is null || r.Turns == 0 ? Html.Empty : Html.Of($"""
        <dl class="facts"><dt>Turns</dt><dd>{r.Turns}</dd>
        <dt>p50 / p95 / p99</dt><dd>{(r.P50 is { } a ? N(a) : "—")} / {(r.P95 is { } b ? N(b) : "—")} / {(r.P99 is { } c ? N(c) : "—")} ms</dd>
        <dt>Under 500 ms</dt><dd>{N(100 * (r.Buckets.Under200 + r.Buckets.From200to500))}%</dd>
        <dt>Over 800 ms</dt><dd>{N(100 * r.Buckets.Over800)}%</dd></dl>
        """);
}
