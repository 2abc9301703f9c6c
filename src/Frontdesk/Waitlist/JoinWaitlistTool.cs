using System.Text.Json;
using System.Text.Json.Nodes;
using Frontdesk.Audit;
using Frontdesk.Booking;
using Frontdesk.Calls;
using Frontdesk.Messaging;
using Frontdesk.Privacy;

namespace Frontdesk.Waitlist;

/// <summary>
/// join_waitlist {procedure?, practitioner?, date?, toDate?, partOfDay?, patientName?}: for a caller who
/// found no suitable time. The caller is the patient matched (or created) by the number they call from,
/// as book_appointment does; the entry is written in the tool call's transaction. An effect tool: a
/// re-issue adds nothing (and the same wish twice is one entry).
/// </summary>
public sealed class JoinWaitlistTool(Vault vault, WaitlistOptions options) : IVapiEffectTool, IVapiToolSchema
{
    public string Name => "join_waitlist";

    public string Description => "Puts the caller on the waiting list when no free time suits them. When a matching time frees up " +
                                 "they get a text with a link that holds it for them for a while.";

    public JsonObject Parameters() => ToolArgs.Schema(
        ("procedure", "string", "Treatment the consultation is about. Optional."),
        ("practitioner", "string", "Practitioner name or part of it, if the caller wants one. Optional."),
        ("date", "string", "Day wanted (YYYY-MM-DD, today, tomorrow or a weekday name), or the first day of a range. Optional."),
        ("toDate", "string", "Last day of a range of days, with date as the first. Optional."),
        ("partOfDay", "string", "morning, afternoon or evening. Optional."),
        ("patientName", "string", "The caller's full name, if given."));

    sealed record PractitionerRow(Guid Id, string Name);

    public async Task<string> InvokeAsync(VapiContext context, JsonElement arguments, CancellationToken ct)
    {
        var clinicId = context.Clinic.Id;
        var zone = ClinicTime.Zone(context.Clinic.Timezone);
        var phone = ToolArgs.CallerPhone(context);
        var s = context.Transaction;

        string? part = null;
        if (ToolArgs.Text(arguments, "partOfDay", 40) is { } partText && (part = PartOfDay.Parse(partText)) is null)
            throw new VapiToolException("Part of day should be morning, afternoon or evening.");
        var (from, _) = CheckAvailabilityTool.Day(ToolArgs.Text(arguments, "date", 40), zone);
        var (_, to) = CheckAvailabilityTool.Day(ToolArgs.Text(arguments, "toDate", 40) ?? ToolArgs.Text(arguments, "date", 40), zone);
        var now = DateTimeOffset.UtcNow;
        if (WaitlistInput.WindowProblem(from, to, now) is not null)
            throw new VapiToolException("Those dates don't work for the waiting list: the last day must be ahead of today and after the first, within a year.");

        // Procedures and who does them (issue 17), as book_appointment reads them: a procedure nobody
        // consults for is said so and nobody waits for it.
        ProcedureFit? procedure = null;
        if (ToolArgs.Text(arguments, "procedure", 100) is { } procedureText
            && (procedure = await ProcedureFits.FindAsync(s, clinicId, procedureText, ct)) is null)
            throw new VapiToolException("I don't have that treatment on our list. Could you say which treatment it is again?");
        if (procedure is { NobodyConsults: true })
            throw new VapiToolException(procedure.NobodyMessage(context.Clinic.Name) + " Would you like me to take a message for the team?");

        PractitionerRow? practitioner = null;
        if (ToolArgs.Text(arguments, "practitioner", 100) is { } who)
        {
            var found = await s.QueryAsync<PractitionerRow>("""
                select id, name from practitioners where clinic_id = @ClinicId and position(lower(@Who) in lower(name)) > 0 order by name limit 4
                """, new { ClinicId = clinicId, Who = who }, ct);
            practitioner = found switch
            {
                [var one] => one,
                [] => throw new VapiToolException("I couldn't find a practitioner by that name. Any practitioner, or someone else?"),
                _ => throw new VapiToolException($"Did you mean {string.Join(" or ", found.Select(p => p.Name))}?"),
            };
            if (procedure is { Restricted: true } && !procedure.PractitionerIds.Contains(practitioner.Id))
                throw new VapiToolException($"{practitioner.Name} doesn't do {procedure.Name} consultations. " +
                                            "Shall I put you down for anyone who does?");
        }

        if (await PatientSms.OptedOutAsync(s, vault, clinicId, phone, ct))
            throw new VapiToolException("Waiting list offers come by text, and this number has asked us not to text it. " +
                                        "If you'd like offers, text START to our number and ask again.");

        var patientId = await s.QuerySingleOrDefaultAsync<Guid?>("""
            select id from patients where clinic_id = @ClinicId and phone = @Phone and erased_at is null order by created_at limit 1
            """, new { ClinicId = clinicId, Phone = phone }, ct);
        if (patientId is null)
        {
            patientId = await s.QuerySingleOrDefaultAsync<Guid>(
                "insert into patients (clinic_id, name, phone) values (@ClinicId, @Name, @Phone) returning id",
                new { ClinicId = clinicId, Name = ToolArgs.Text(arguments, "patientName", 100), Phone = phone }, ct);
            await AuditLog.WriteAsync(s, clinicId, "created", "patient", patientId.ToString(), new { source = "phone", callId = context.CallId }, ct);
        }

        await WaitlistEntries.AddAsync(s, clinicId, new WaitlistWish(patientId.Value, procedure?.Id, practitioner?.Id, from, to, part),
            WaitlistInput.ExpiresAt(from, to, now, options), "voice", context.CallId, ct);

        var what = procedure is { } p ? $"a {p.Name} consultation" : "an appointment";
        var with = practitioner is null ? "" : $" with {practitioner.Name}";
        var when = (from, to) switch
        {
            ({ } f, { } t) when t - f <= TimeSpan.FromHours(25) => " on " + Day(f, zone),
            ({ } f, { } t) => $" between {Day(f, zone)} and {Day(t.AddDays(-1), zone)}",
            _ => "",
        };
        var partText2 = part is null ? "" : $" in the {part}";
        return $"You're on the waiting list for {what}{with}{when}{partText2}. As soon as a matching time frees up we'll text you a link " +
               $"that holds it for you for {options.HoldMinutes} minutes.";
    }

    static string Day(DateTimeOffset at, TimeZoneInfo zone) =>
        ClinicTime.Local(at, zone).ToString("dddd d MMMM", System.Globalization.CultureInfo.InvariantCulture);
}
