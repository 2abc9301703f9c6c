using System.Globalization;
using System.Text.Json.Nodes;
using Frontdesk.Calls;

namespace Frontdesk.Reception;

/// <summary>
/// The caller and the date, before the first word (issue 17): assistant-request's answer gets
/// <c>assistantOverrides.variableValues</c> — clinicName, today (YYYY-MM-DD), weekday, localTime
/// (HH:mm), openNow, nextOpening and emergencyInstruction, all in the clinic's time zone — and, only
/// when the caller's number is that of exactly one patient who is not erased, patientFirstName and
/// nextAppointment in spoken form. A withheld or unknown number, or one shared by several patients,
/// gets nothing personal. One statement (settings, patient and next booking together); if it fails or
/// takes longer than <see cref="ReceptionOptions.CallerLookupBudgetMs"/>, the date values still go out
/// and the call is answered.
/// </summary>
public sealed partial class CallerVariables(Db db, TimeProvider clock, ReceptionOptions options, ILogger<CallerVariables> log)
    : IAssistantRequestContributor
{
    sealed record Lookup(string? Hours, string? Closures, string? TransferNumber, string? TransferMode, string? Emergency, string? Offer,
        bool HasSettings, long Matches, string? PatientName, DateTimeOffset? NextStartsAt, string? NextPractitioner);

    // Settings and caller in one round trip. Two patients on one number: nobody is recognised (limit 2 counts the ambiguity).
    const string LookupSql = """
        select r.opening_hours::text, r.closures::text, r.transfer_number, r.transfer_mode, r.emergency_instruction, r.consultation_offer,
               r.clinic_id is not null, p.matches, p.name, b.starts_at, pr.name
        from (select 1) one
        left join reception_settings r on r.clinic_id = @C
        left join lateral (
          select count(*) as matches, min(x.name) as name, min(x.id::text)::uuid as id
          from (select id, name from patients where clinic_id = @C and phone = @Phone and erased_at is null limit 2) x
        ) p on true
        left join lateral (
          select b.starts_at, b.practitioner_id from bookings b
          where b.clinic_id = @C and p.matches = 1 and b.patient_id = p.id and b.status = 'confirmed' and b.starts_at > @Now
          order by b.starts_at limit 1
        ) b on true
        left join practitioners pr on pr.clinic_id = @C and pr.id = b.practitioner_id
        """;

    public async Task ContributeAsync(VapiContext context, JsonObject answer, CancellationToken ct)
    {
        var clinic = context.Clinic;
        var now = clock.GetUtcNow();
        var phone = Phone.ToE164(context.CustomerNumber, Phone.RegionForTimezone(clinic.Timezone));
        Lookup? found = null;
        using (var budget = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            budget.CancelAfter(options.CallerLookupBudgetMs);
            try
            {
                var rows = await db.QueryOnceAsync<Lookup>(context.Claims, LookupSql,
                    new { C = clinic.Id, Phone = phone, Now = now }, budget.Token);
                found = rows.Count == 1 ? rows[0] : null;
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                Log.LookupFailed(log, clinic.Id, e.GetType().Name);
            }
        }

        var overrides = answer["assistantOverrides"] as JsonObject ?? new JsonObject();
        answer["assistantOverrides"] = overrides;
        var values = overrides["variableValues"] as JsonObject ?? new JsonObject();
        overrides["variableValues"] = values;
        foreach (var (key, value) in Values(clinic, found, now)) values[key] = value;
    }

    static IEnumerable<(string Key, JsonNode? Value)> Values(VapiClinic clinic, Lookup? found, DateTimeOffset now)
    {
        var zone = ClinicTime.Zone(clinic.Timezone);
        var local = TimeZoneInfo.ConvertTime(now, zone);
        yield return ("clinicName", clinic.Name);
        yield return ("today", local.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        yield return ("weekday", local.ToString("dddd", CultureInfo.InvariantCulture));
        yield return ("localTime", local.ToString("HH:mm", CultureInfo.InvariantCulture));
        if (found is null)
        {
            // The lookup failed: the hours are not known, and the prompt says so rather than something wrong
            // (every variable API.md lists is present; the prompt's "Open now: {{openNow}}" reads "unknown").
            yield return ("openNow", "unknown");
            yield return ("nextOpening", "unknown");
            yield return ("emergencyInstruction", ReceptionSettings.Defaults.EmergencyInstructionFor(clinic.Timezone));
            yield break;
        }
        var settings = found.HasSettings
            ? ReceptionStore.FromRow(new ReceptionStore.Row(found.Hours, found.Closures, found.TransferNumber, found.TransferMode, found.Emergency, found.Offer))
            : ReceptionSettings.Defaults;
        yield return ("openNow", OpeningHours.IsOpen(settings.Week, zone, now));
        yield return ("nextOpening", OpeningHours.NextOpening(settings.Week, zone, now) is { } next ? ClinicTime.Spoken(next, zone) : "not set");
        yield return ("emergencyInstruction", settings.EmergencyInstructionFor(clinic.Timezone));
        if (found is { Matches: 1, PatientName: { } name } && FirstName(name) is { } first)
        {
            yield return ("patientFirstName", first);
            yield return ("nextAppointment", found.NextStartsAt is { } at
                ? ClinicTime.Spoken(at, zone) + (found.NextPractitioner is { } p ? $" with {p}" : "")
                : "none booked");
        }
    }

    /// <summary>The first word of a patient's name, when it reads as a name (letters, apostrophes, hyphens; at most 40 characters).</summary>
    public static string? FirstName(string name)
    {
        var first = name.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return first is { Length: > 0 and <= 40 } && first.All(c => char.IsLetter(c) || c is '\'' or '’' or '-') ? first : null;
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Caller lookup for clinic {ClinicId} failed ({ExceptionType}); assistant answered with the date only")]
        public static partial void LookupFailed(ILogger logger, Guid clinicId, string exceptionType);
    }
}
