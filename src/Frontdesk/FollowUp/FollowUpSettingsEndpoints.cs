using System.Text.RegularExpressions;
using Frontdesk.Audit;
using Frontdesk.Tenancy;

namespace Frontdesk.FollowUp;

/// <param name="ConsultationMinutes">Minimum slot length for this procedure (null: any).</param>
/// <param name="PractitionerIds">Who consults for it (null: every practitioner; empty: nobody).</param>
public sealed record ProcedureView(string Name, string[] Synonyms, string? GuidePath, int? ConsultationMinutes = null, Guid[]? PractitionerIds = null);

public sealed record FollowUpSettings(string OutboundAgent, string AgentName, string? SmsTemplate, bool FollowUpOnVoicemail,
    string? QuietStart, string? QuietEnd, IReadOnlyList<ProcedureView> Procedures);

// Optional members carry defaults (RespectRequiredConstructorParameters makes the others required).
public sealed record UpdateFollowUp(string OutboundAgent, string AgentName, string? SmsTemplate = null, bool FollowUpOnVoicemail = false,
    string? QuietStart = null, string? QuietEnd = null);

/// <param name="ConsultationMinutes">5–480: only slots at least this long are offered for the procedure; null/absent: any length.</param>
/// <param name="PractitionerIds">The clinic's practitioners who consult for it; null/absent: everyone; []: nobody (the agent says so).</param>
public sealed record UpsertProcedure(string[] Synonyms, string? GuidePath = null, int? ConsultationMinutes = null, Guid[]? PractitionerIds = null);

/// <summary>A clinic's follow-up settings: outbound agent, SMS template, voicemail rule, quiet hours,
/// and the procedure catalog (names, spoken synonyms, guide links). Read by members, written by admins.</summary>
public static partial class FollowUpSettingsEndpoints
{
    public static void MapFollowUpSettings(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/clinics/{clinicId}").WithTags("Follow-up")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter);
        group.MapGet("/followup", Get);
        group.MapPut("/followup", Update);
        group.MapPut("/procedures/{name}", UpsertProcedureAsync);
        group.MapDelete("/procedures/{name}", DeleteProcedure);
    }

    sealed record SettingsRow(string Agent, string AgentName, string? Template, bool Voicemail, string? QuietStart, string? QuietEnd);

    internal static async Task<Results<Ok<FollowUpSettings>, ProblemHttpResult>> Get(Guid clinicId, HttpContext http, Db db, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(http.Claims(), ct);
        var row = await s.QuerySingleOrDefaultAsync<SettingsRow>("""
            select followup_agent, followup_agent_name, sms_template, followup_on_voicemail,
                   to_char(quiet_start, 'HH24:MI'), to_char(quiet_end, 'HH24:MI')
            from clinics where id = @Id
            """, new { Id = clinicId }, ct);
        if (row is null) return Problems.NotFoundProblem("Clinic");
        var procedures = await s.QueryAsync<ProcedureView>(
            $"select {ProcedureColumns} from clinic_procedures p where p.clinic_id = @Id order by lower(p.name)", new { Id = clinicId }, ct);
        return TypedResults.Ok(new FollowUpSettings(row.Agent, row.AgentName, row.Template, row.Voicemail, row.QuietStart, row.QuietEnd, procedures));
    }

    const string ProcedureColumns = """
        p.name, p.synonyms, p.guide_path, p.consultation_minutes,
        case when p.practitioners_restricted then array(select pp.practitioner_id from procedure_practitioners pp
                                                        where pp.clinic_id = p.clinic_id and pp.procedure_id = p.id order by pp.practitioner_id) end
        """;

    /// <summary>At most this many practitioners per procedure.</summary>
    public const int MaxPractitioners = 100;

    static ProblemHttpResult? Forbidden(RequestClaims claims) =>
        claims.Deny(AppRoles.Admin, "Only a clinic admin may change follow-up settings");

    internal static async Task<Results<Ok<FollowUpSettings>, ProblemHttpResult>> Update(Guid clinicId, UpdateFollowUp body, HttpContext http, Db db, CancellationToken ct)
    {
        if (Forbidden(http.Claims()) is { } denied) return denied;
        if (string.IsNullOrWhiteSpace(body.OutboundAgent) || body.OutboundAgent.Length > 100 || string.IsNullOrWhiteSpace(body.AgentName) || body.AgentName.Length > 100)
            return Problems.Invalid("outboundAgent and agentName are required (at most 100 characters).");
        if (body.SmsTemplate is { } t)
        {
            if (t.Length is 0 or > 1600) return Problems.Invalid("smsTemplate is 1–1600 characters (Twilio's limit).");
            if (SmsTemplate.UnknownPlaceholders(t) is [_, ..] unknown)
                return Problems.Invalid($"Unknown placeholders: {string.Join(", ", unknown)}. Known: {string.Join(", ", SmsTemplate.Known)}.");
        }
        if ((body.QuietStart is null) != (body.QuietEnd is null)) return Problems.Invalid("quietStart and quietEnd are both set or both absent.");
        if (body.QuietStart is not null && (!TimeOnly.TryParseExact(body.QuietStart, "HH:mm", out _) || !TimeOnly.TryParseExact(body.QuietEnd, "HH:mm", out _)))
            return Problems.Invalid("quietStart and quietEnd are HH:mm in the clinic's timezone.");

        var updated = await db.InTransactionAsync(http.Claims(), async s =>
        {
            var n = await s.ExecuteAsync("""
                update clinics set followup_agent = @Agent, followup_agent_name = @Name, sms_template = @Template,
                       followup_on_voicemail = @Voicemail, quiet_start = @QuietStart::time, quiet_end = @QuietEnd::time
                where id = @Id
                """, new { Id = clinicId, Agent = body.OutboundAgent.Trim(), Name = body.AgentName.Trim(), Template = body.SmsTemplate,
                Voicemail = body.FollowUpOnVoicemail, body.QuietStart, body.QuietEnd }, ct);
            if (n == 1) await AuditLog.WriteAsync(s, clinicId, "updated", "followup_settings", clinicId.ToString(),
                new { outboundAgent = body.OutboundAgent, templateChanged = body.SmsTemplate is not null, quietHours = body.QuietStart is not null }, ct);
            return n == 1;
        }, ct);
        return updated ? await Get(clinicId, http, db, ct) : Problems.NotFoundProblem("Clinic");
    }

    internal static async Task<Results<Ok<ProcedureView>, ProblemHttpResult>> UpsertProcedureAsync(
        Guid clinicId, string name, UpsertProcedure body, HttpContext http, Db db, CancellationToken ct)
    {
        if (Forbidden(http.Claims()) is { } denied) return denied;
        name = name.Trim();
        if (name.Length is 0 or > 100) return Problems.Invalid("The procedure name is 1–100 characters.");
        if (body.Synonyms.Any(x => x is null)) return Problems.Invalid("synonyms are strings.");
        var synonyms = body.Synonyms.Select(x => x.Trim()).Where(x => x.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        if (synonyms.Length > 50 || synonyms.Any(x => x.Length > 100)) return Problems.Invalid("At most 50 synonyms of at most 100 characters.");
        if (body.GuidePath is { } g && (g.Length > 500 || !(g.StartsWith('/') || Uri.TryCreate(g, UriKind.Absolute, out var u) && u.Scheme == Uri.UriSchemeHttps)))
            return Problems.Invalid("guidePath is a path under the public base URL (/guides/…) or an https URL.");
        if (body.ConsultationMinutes is < 5 or > 480)
            return Problems.Invalid("consultationMinutes is a whole number of minutes from 5 to 480 (or null for any slot length).");
        var practitioners = body.PractitionerIds?.Distinct().ToArray();
        if (practitioners is { Length: > MaxPractitioners })
            return Problems.Invalid($"practitionerIds lists at most {MaxPractitioners} practitioners.");

        await using var s = await db.BeginAsync(http.Claims(), ct);
        if (practitioners is { Length: > 0 })
        {
            // Checked under RLS: another clinic's practitioner is as unknown as one that does not exist.
            var known = await s.QueryAsync<Guid>("select id from practitioners where clinic_id = @Id and id = any(@Ids)",
                new { Id = clinicId, Ids = practitioners }, ct);
            if (practitioners.Except(known).ToArray() is [_, ..] unknown)
                return Problems.Invalid($"practitionerIds names practitioners this clinic does not have: {string.Join(", ", unknown)}.");
        }
        // Upsert keyed by the case-insensitive name (clinic_procedures_clinic_name); PUT replaces every setting.
        var id = await s.QuerySingleOrDefaultAsync<Guid>("""
            insert into clinic_procedures (clinic_id, name, synonyms, guide_path, consultation_minutes, practitioners_restricted)
            values (@Id, @Name, @Synonyms, @Guide, @Minutes, @Restricted)
            on conflict (clinic_id, lower(name)) do update set name = excluded.name, synonyms = excluded.synonyms, guide_path = excluded.guide_path,
                consultation_minutes = excluded.consultation_minutes, practitioners_restricted = excluded.practitioners_restricted
            returning id
            """, new { Id = clinicId, Name = name, Synonyms = synonyms, Guide = body.GuidePath, Minutes = body.ConsultationMinutes,
            Restricted = practitioners is not null }, ct);
        await s.ExecuteAsync("delete from procedure_practitioners where clinic_id = @ClinicId and procedure_id = @ProcedureId",
            new { ClinicId = clinicId, ProcedureId = id }, ct);
        if (practitioners is { Length: > 0 })
            await s.ExecuteAsync("""
                insert into procedure_practitioners (clinic_id, procedure_id, practitioner_id)
                select @ClinicId, @ProcedureId, unnest(@Ids)
                """, new { ClinicId = clinicId, ProcedureId = id, Ids = practitioners }, ct);
        var view = await s.QuerySingleOrDefaultAsync<ProcedureView>(
            $"select {ProcedureColumns} from clinic_procedures p where p.clinic_id = @ClinicId and p.id = @ProcedureId",
            new { ClinicId = clinicId, ProcedureId = id }, ct);
        await AuditLog.WriteAsync(s, clinicId, "updated", "procedure", name, new
        {
            synonyms = synonyms.Length, guide = body.GuidePath is not null, consultationMinutes = body.ConsultationMinutes,
            practitioners = practitioners?.Length,
        }, ct);
        await s.CommitAsync(ct);
        return TypedResults.Ok(view!);
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> DeleteProcedure(Guid clinicId, string name, HttpContext http, Db db, CancellationToken ct)
    {
        if (Forbidden(http.Claims()) is { } denied) return denied;
        var deleted = await db.InTransactionAsync(http.Claims(), async s =>
        {
            var n = await s.ExecuteAsync("delete from clinic_procedures where clinic_id = @Id and lower(name) = lower(@Name)", new { Id = clinicId, Name = name.Trim() }, ct);
            if (n == 1) await AuditLog.WriteAsync(s, clinicId, "deleted", "procedure", name.Trim(), null, ct);
            return n == 1;
        }, ct);
        return deleted ? TypedResults.NoContent() : Problems.NotFoundProblem("Procedure");
    }
}
