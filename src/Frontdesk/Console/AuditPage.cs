using System.Globalization;
using System.Text.Json;
using Frontdesk.Audit;
using Frontdesk.BookingPage;

namespace Frontdesk.StaffConsole;

/// <summary>The clinic's audit trail, newest first, filtered by action, actor or entity, with the
/// hash chain's verification (<c>audit_verify</c>) at the top. Rows committed moments ago show as
/// "sealing…" until the audit sealer links them into the chain (issue 16).</summary>
public static class AuditPage
{
    public const int PageSize = 100;

    public static void Map(RouteGroupBuilder console) => console.MapGet("/audit", Show);

    sealed record Broken(long? BrokenSeq, string? Reason);

    static async Task<ContentHttpResult> Show(string? action, string? actor, string? entity, long? before, HttpContext http, Db db, CancellationToken ct)
    {
        var user = ConsoleUser.Of(http);
        action = Clean(action);
        actor = Clean(actor);
        entity = Clean(entity);
        IReadOnlyList<AuditEntry> rows;
        IReadOnlyList<string> actions;
        Broken? broken;
        long sealedRows;
        await using (var s = await db.BeginAsync(user.Claims, ct))
        {
            rows = await s.QueryAsync<AuditEntry>("""
                select seq, at, actor, action, entity, entity_id, detail from audit_trail
                where clinic_id = @C
                  and (@Before::bigint is null or seq < @Before)
                  and (@Action::text is null or action = @Action)
                  and (@Actor::text is null or actor = @Actor)
                  and (@Entity::text is null or entity = @Entity)
                order by seq desc nulls first, id desc limit @Limit
                """, new { C = user.ClinicId, Before = before, Action = action, Actor = actor, Entity = entity, Limit = PageSize }, ct);
            actions = await s.QueryAsync<string>("select distinct action from audit_trail where clinic_id = @C order by 1", new { C = user.ClinicId }, ct);
            broken = await s.QuerySingleOrDefaultAsync<Broken>("select broken_seq, reason from public.audit_verify(@C) limit 1", new { C = user.ClinicId }, ct);
            sealedRows = await s.QuerySingleOrDefaultAsync<long>("select count(*) from audit_trail where clinic_id = @C and seq is not null", new { C = user.ClinicId }, ct);
        }

        var verdict = broken is { BrokenSeq: { } seq }
            ? Html.Of($"""<p class="note" role="alert"><b>The chain does not verify</b> at entry {seq}: {broken.Reason}. Someone changed or removed audit rows; keep this page and tell your data protection officer.</p>""")
            : Html.Of($"""<p class="note ok" role="status"><b>The chain verifies:</b> all {sealedRows} entries are unchanged and none is missing.</p>""");
        var tz = user.ClinicTimezone;
        var list = rows.Select(r => Html.Of($"""
            <tr><td>{(r.Seq is { } n ? n.ToString(CultureInfo.InvariantCulture) : "sealing…")}</td><td>{ConsoleLayout.Local(r.At, tz, "d MMM yyyy HH:mm:ss")}</td><td>{r.Actor}</td><td>{r.Action}</td>
            <td>{r.Entity}{(r.EntityId is null ? "" : " " + Short(r.EntityId))}</td><td><code>{Detail(r.Detail)}</code></td></tr>
            """));
        var query = $"action={Uri.EscapeDataString(action ?? "")}&actor={Uri.EscapeDataString(actor ?? "")}&entity={Uri.EscapeDataString(entity ?? "")}";
        var older = rows.Count == PageSize ? Html.Of($"""<p><a href="{ConsoleRoutes.Audit}?{query}&before={rows[^1].Seq}">Older entries →</a></p>""") : Html.Empty;
        return ConsoleLayout.Page(http, "Audit trail", "audit", Html.Of($"""
            <h1>Audit trail</h1>
            {verdict}
            <form method="get" action="{ConsoleRoutes.Audit}" class="filters">
            <div><label for="action">Action</label><select id="action" name="action"><option value="">Any</option>{actions.Select(a => Html.Of($"<option{(a == action ? Html.Constant(" selected") : Html.Empty)}>{a}</option>"))}</select></div>
            <div><label for="actor">Actor</label><input id="actor" name="actor" type="text" maxlength="200" value="{actor ?? ""}"></div>
            <div><label for="entity">Entity</label><input id="entity" name="entity" type="text" maxlength="100" value="{entity ?? ""}"></div>
            <div><button type="submit">Filter</button></div>
            </form>
            <div class="scroll"><table><thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">What</th><th scope="col">Detail</th></tr></thead>
            <tbody>{list}</tbody></table></div>
            {(rows.Count == 0 ? Html.Of($"<p class=\"muted\">No entries match.</p>") : Html.Empty)}
            {older}
            """));
    }

    static string? Clean(string? v) => string.IsNullOrWhiteSpace(v) || v.Length > 200 || v.Contains('\0', StringComparison.Ordinal) ? null : v.Trim();

    static string Short(string id) => id.Length > 13 && Guid.TryParse(id, out _) ? id[..8] + "…" : id;

    static string Detail(JsonElement detail)
    {
        var text = detail.ValueKind == JsonValueKind.Object && !detail.EnumerateObject().Any() ? "" : detail.GetRawText();
        return text.Length > 200 ? text[..200] + "…" : text;
    }
}
