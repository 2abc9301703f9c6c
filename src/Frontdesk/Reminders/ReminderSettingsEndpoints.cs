using Frontdesk.Audit;
using Frontdesk.Tenancy;

namespace Frontdesk.Reminders;

/// <summary>A clinic's reminders: on or off, ISO 8601 offsets before the appointment (largest first), the
/// template in effect and whether it is the clinic's own (<c>custom</c>).</summary>
public sealed record ReminderSettings(bool Enabled, IReadOnlyList<string> Offsets, string Template, bool Custom);

/// <summary>PUT body. <c>template</c> null (or absent) goes back to the default text.</summary>
public sealed record UpdateReminderSettings(bool Enabled, string[] Offsets, string? Template = null);

/// <summary>API.md "Between calls": GET | PUT /api/clinics/{clinicId}/reminders. Read by members (the
/// console shows them), written by admins; a change re-arms the clinic's future reminders (a trigger
/// on clinics, so quiet-hour changes made through the follow-up settings re-arm too).</summary>
public static class ReminderSettingsEndpoints
{
    public const int MaxOffsets = 5;
    public static readonly TimeSpan MinOffset = TimeSpan.FromMinutes(15), MaxOffset = TimeSpan.FromDays(14);

    public static void MapReminderSettings(this IEndpointRouteBuilder app)
    {
        // Admin, reading and writing (API.md), like the clinic's other settings.
        var group = app.MapGroup("/api/clinics/{clinicId:guid}/reminders").WithTags("Reminders")
            .RequireAuthorization(Auth.Policies.Member).RequireRoles(AppRoles.Admin);
        group.MapGet("", Get).ProducesProblem(403).ProducesProblem(404);
        group.MapPut("", Update).ProducesProblem(400).ProducesProblem(403).ProducesProblem(404);
    }

    sealed record Row(bool Enabled, TimeSpan[] Offsets, string? Template);

    public static async Task<Results<Ok<ReminderSettings>, ProblemHttpResult>> Get(Guid clinicId, HttpContext http, Db db, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(http.Claims(), ct);
        return await ReadAsync(s, clinicId, ct) is { } view ? TypedResults.Ok(view) : Problems.NotFoundProblem("Clinic");
    }

    public static async Task<ReminderSettings?> ReadAsync(DbSession s, Guid clinicId, CancellationToken ct) =>
        await s.QuerySingleOrDefaultAsync<Row>(
                "select reminders_enabled, reminder_offsets, reminder_template from clinics where id = @Id", new { Id = clinicId }, ct) is { } row
            ? new ReminderSettings(row.Enabled, row.Offsets.OrderDescending().Select(IsoDuration.Format).ToList(),
                row.Template ?? ReminderTemplate.Default, row.Template is not null)
            : null;

    /// <summary>The offsets as durations, or the reason they are not acceptable.</summary>
    public static (TimeSpan[]? Offsets, string? Problem) ParseOffsets(string[]? offsets)
    {
        if (offsets is null || offsets.Length is 0 or > MaxOffsets)
            return (null, $"offsets lists 1–{MaxOffsets} ISO 8601 durations before the appointment, e.g. [\"P1D\", \"PT2H\"].");
        var parsed = new List<TimeSpan>();
        foreach (var o in offsets)
        {
            if (IsoDuration.Parse(o) is not { } t)
                return (null, $"'{Truncate(o)}' is not an ISO 8601 duration in weeks, days, hours or minutes (P1D, PT2H, P7D, PT30M).");
            if (t < MinOffset || t > MaxOffset)
                return (null, $"'{o}' is outside the range of offsets: {IsoDuration.Format(MinOffset)} to {IsoDuration.Format(MaxOffset)} before the appointment.");
            if (parsed.Contains(t)) return (null, $"'{o}' is listed twice.");
            parsed.Add(t);
        }
        return ([.. parsed.OrderDescending()], null);
    }

    static string Truncate(string? s) => s is null ? "null" : s.Length > 20 ? s[..20] + "…" : s;

    public static async Task<Results<Ok<ReminderSettings>, ProblemHttpResult>> Update(Guid clinicId, UpdateReminderSettings body, HttpContext http, Db db,
        CancellationToken ct)
    {
        var (offsets, problem) = ParseOffsets(body.Offsets);
        if (problem is not null) return Problems.Invalid(problem);
        if (body.Template is { } t && ReminderTemplate.Problem(t) is { } bad) return Problems.Invalid(bad);

        await using var s = await db.BeginAsync(http.Claims(), ct);
        // The trigger clinics_reminders_update re-arms the clinic's future bookings in this transaction.
        var n = await s.ExecuteAsync("""
            update clinics set reminders_enabled = @Enabled, reminder_offsets = @Offsets, reminder_template = @Template where id = @Id
            """, new { Id = clinicId, body.Enabled, Offsets = offsets, body.Template }, ct);
        if (n != 1) return Problems.NotFoundProblem("Clinic");
        var armed = await s.QuerySingleOrDefaultAsync<long>(
            "select count(*) from booking_reminders where clinic_id = @Id and status = 'armed'", new { Id = clinicId }, ct);
        await AuditLog.WriteAsync(s, clinicId, "updated", "reminder_settings", clinicId.ToString(), new
        {
            enabled = body.Enabled, offsets = offsets!.Select(IsoDuration.Format).ToArray(), customTemplate = body.Template is not null, armed,
        }, ct);
        var view = await ReadAsync(s, clinicId, ct);
        await s.CommitAsync(ct);
        return TypedResults.Ok(view!);
    }
}
