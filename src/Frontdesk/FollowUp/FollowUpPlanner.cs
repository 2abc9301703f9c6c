using System.Text.Json;
using Frontdesk.Audit;
using Frontdesk.Messaging;
using Frontdesk.Privacy;

namespace Frontdesk.FollowUp;

/// <summary>A call that ended, from Vapi's end-of-call report or the seed's call_ended JSON.</summary>
public sealed record CallEnded(
    Guid ClinicId, string CallId, string Source, string? Phone, string? PatientName, string? Keyword,
    bool? BookingConfirmed, string? Transcript, string? EndedReason, string? ExternalLeadId);

public abstract record FollowUpOutcome
{
    public sealed record Queued(Guid LeadId, Guid FollowupId, Guid MessageId, string Procedure, string? PdfLink,
        string AssignedAgent, bool Replay) : FollowUpOutcome;

    /// <summary>No follow-up: booking_confirmed, not_reached, no_procedure, invalid_number, opted_out.</summary>
    public sealed record None(string Reason) : FollowUpOutcome;

    /// <summary>The SMS guard refused the message (country or quota). <paramref name="Stored"/>: the lead,
    /// follow-up and a failed message were kept so a person sees it (webhooks); otherwise nothing was.</summary>
    public sealed record Refused(SmsVerdict.Refused Verdict, bool Stored) : FollowUpOutcome;
}

sealed record ClinicFollowUpSettings(string Name, string Timezone, string Agent, string AgentName, string? Template,
    bool OnVoicemail, TimeOnly? QuietStart, TimeOnly? QuietEnd, bool Booked, JsonElement Catalog);

sealed record NewLead(Guid Id, string? PatientName);

sealed record ExistingFollowUp(Guid LeadId, Guid FollowupId, Guid MessageId, string Procedure, string? PdfLink, string Agent);

/// <summary>
/// Decides whether a call that ended gets the hang-up SMS and, when it does, writes the lead, the
/// follow-up, the message and its outbox job in one transaction (ARCHITECTURE decision 6). One lead
/// per (clinic, call): a replayed webhook or report returns the first answer and sends nothing new.
/// </summary>
public sealed partial class FollowUpPlanner(Db db, Outbox outbox, BookingLinkToken tokens, PublicUrl urls, Vault vault, SmsGuard guard,
    ILogger<FollowUpPlanner> log)
{
    const string ExistingSql = """
        select l.id, f.id, m.id, f.procedure, f.pdf_link, f.assigned_agent
        from leads l
        join lead_followups f on f.clinic_id = l.clinic_id and f.lead_id = l.id
        join sms_messages m on m.clinic_id = f.clinic_id and m.followup_id = f.id
        where l.clinic_id = @ClinicId and l.call_id = @CallId
        """;

    /// <param name="storeRefusals">A message the SMS guard refuses is kept as a failed message with its
    /// lead (true: webhooks, where nobody waits for an answer) or nothing is stored and the caller
    /// gets the refusal to answer with (false: the API).</param>
    public async Task<FollowUpOutcome> PlanAsync(RequestClaims claims, CallEnded call, CancellationToken ct, bool storeRefusals = true)
    {
        FollowUpOutcome outcome;
        await using (var s = await db.BeginAsync(claims, ct))
        {
            outcome = await DecideAndWriteAsync(s, call, storeRefusals, ct);
            if (outcome is FollowUpOutcome.Queued { Replay: false } or FollowUpOutcome.Refused { Stored: true })
                await s.CommitAsync(ct);
        }
        switch (outcome)
        {
            case FollowUpOutcome.Queued { Replay: false } q:
                outbox.Signal();
                Log.Queued(log, call.ClinicId, q.LeadId, q.Procedure);
                break;
            case FollowUpOutcome.Refused r:
                if (!r.Stored)
                    // Nothing else was kept: the refusal itself is worth a line in the clinic's trail.
                    await db.InTransactionAsync(claims, async s =>
                    {
                        await AuditLog.WriteAsync(s, call.ClinicId, "sms_refused", "call", call.CallId, new { reason = r.Verdict.Reason, source = call.Source }, ct);
                        return true;
                    }, ct);
                Log.Refused(log, call.ClinicId, r.Verdict.Reason);
                break;
            case FollowUpOutcome.None n:
                Log.NotDue(log, call.ClinicId, n.Reason);
                break;
        }
        return outcome;
    }

    /// <summary>Decides and writes in the caller's transaction (a Vapi message's claim), which commits
    /// the follow-up together with the message's answer; the outbox is woken after that commit.</summary>
    public async Task<FollowUpOutcome> PlanAsync(DbSession s, CallEnded call, CancellationToken ct)
    {
        var outcome = await DecideAndWriteAsync(s, call, storeRefusals: true, ct);
        if (outcome is FollowUpOutcome.Queued { Replay: false } q)
        {
            s.AfterCommit(() =>
            {
                outbox.Signal();
                Log.Queued(log, call.ClinicId, q.LeadId, q.Procedure);
            });
        }
        else if (outcome is FollowUpOutcome.Refused r)
        {
            s.AfterCommit(() => Log.Refused(log, call.ClinicId, r.Verdict.Reason));
        }
        else if (outcome is FollowUpOutcome.None n)
        {
            Log.NotDue(log, call.ClinicId, n.Reason);
        }
        return outcome;
    }

    async Task<FollowUpOutcome> DecideAndWriteAsync(DbSession s, CallEnded call, bool storeRefusals, CancellationToken ct)
    {
        if (await s.QuerySingleOrDefaultAsync<ExistingFollowUp>(ExistingSql, new { call.ClinicId, call.CallId }, ct) is { } first)
            return Replayed(first);

        var clinic = await s.QuerySingleOrDefaultAsync<ClinicFollowUpSettings>("""
            select c.name, c.timezone, c.followup_agent, c.followup_agent_name, c.sms_template, c.followup_on_voicemail,
                   c.quiet_start, c.quiet_end,
                   exists (select 1 from bookings b where b.clinic_id = c.id and b.call_id = @CallId and b.status = 'confirmed'),
                   (select coalesce(jsonb_agg(jsonb_build_object('name', p.name, 'synonyms', p.synonyms, 'guide', p.guide_path)), '[]'::jsonb)
                      from clinic_procedures p where p.clinic_id = c.id)
            from clinics c where c.id = @ClinicId
            """, new { call.ClinicId, call.CallId }, ct) ?? throw new InvalidOperationException("clinic not visible to its own claims");

        if (clinic.Booked || call.BookingConfirmed == true) return new FollowUpOutcome.None("booking_confirmed");
        if (NotReached(call.EndedReason, clinic.OnVoicemail)) return new FollowUpOutcome.None("not_reached");

        var catalog = new ProcedureCatalog(clinic.Catalog.EnumerateArray().Select(p => new Procedure(
            p.GetProperty("name").GetString()!,
            p.GetProperty("synonyms").EnumerateArray().Select(x => x.GetString()!).ToList(),
            p.GetProperty("guide").GetString())).ToList());
        var procedure = catalog.ForKeyword(call.Keyword) ?? catalog.Find(call.Transcript);
        if (procedure is null) return new FollowUpOutcome.None("no_procedure");
        // What the call was about, for the clinic's figures (the call row exists for Vapi reports only).
        await s.ExecuteAsync("update calls set procedure = @Procedure where clinic_id = @ClinicId and call_id = @CallId",
            new { Procedure = procedure.Name, call.ClinicId, call.CallId }, ct);

        var phone = Phone.ToE164(call.Phone, Phone.RegionForTimezone(clinic.Timezone));
        if (phone is null) return new FollowUpOutcome.None("invalid_number");
        var phoneHash = await vault.CallerHashAsync(s, call.ClinicId, CallerSubject.Phone(phone), ct);
        if (await s.QuerySingleOrDefaultAsync<bool>(SmsOptOuts.ExistsSql, new { call.ClinicId, Hash = phoneHash, Phone = phone }, ct))
            return new FollowUpOutcome.None("opted_out");

        var leadId = Guid.NewGuid();
        var lead = await s.QuerySingleOrDefaultAsync<NewLead>("""
            insert into leads (id, clinic_id, call_id, external_ref, phone_hash, content, procedure, source, patient_id)
            select @Id, @ClinicId, @CallId, @ExternalRef, @Hash, @Content, @Procedure, @Source,
                   (select id from patients where clinic_id = @ClinicId and phone = @Phone and erased_at is null order by created_at limit 1)
            on conflict (clinic_id, call_id) do nothing
            returning id, (select name from patients where clinic_id = @ClinicId and phone = @Phone and erased_at is null order by created_at limit 1)
            """, new
        {
            Id = leadId, call.ClinicId, call.CallId, ExternalRef = call.ExternalLeadId, Hash = phoneHash, Phone = phone,
            Content = await vault.SealForCallerAsync(s, call.ClinicId, phoneHash, LeadContact.Table, leadId.ToString(),
                new LeadContact(phone, Clean(call.PatientName)), ct),
            Procedure = procedure.Name, call.Source,
        }, ct);
        if (lead is not { } l)
        {
            // Another delivery of the same call won the insert and has committed: answer as it did.
            var winner = await s.QuerySingleOrDefaultAsync<ExistingFollowUp>(ExistingSql, new { call.ClinicId, call.CallId }, ct);
            return winner is null ? new FollowUpOutcome.None("in_progress") : Replayed(winner);
        }

        var pdfLink = procedure.GuidePath is null ? null : urls.For(procedure.GuidePath);
        var token = tokens.Create(call.ClinicId, l.Id, procedure.Name, DateTimeOffset.UtcNow + BookingLinkToken.DefaultLifetime);
        var bookingLink = urls.For("/book/" + token);
        var name = SmsName(Clean(call.PatientName)) ?? SmsName(Clean(l.PatientName));
        var body = SmsText.Fit(SmsTemplate.Render(clinic.Template ?? SmsTemplate.Default, new Dictionary<string, string?>
        {
            ["patientName"] = name ?? "there",
            ["procedure"] = procedure.Name,
            ["pdfLink"] = pdfLink ?? "",
            ["bookingLink"] = bookingLink,
            ["clinicName"] = clinic.Name,
            ["agentName"] = clinic.AgentName,
        }));
        var (segments, _) = SmsText.Count(body);
        var templateName = SmsTemplate.NameFor(procedure.Name);
        // Late in the transaction: an allowed message holds the day's quota row until commit.
        var verdict = await guard.CheckAsync(s, call.ClinicId, phone, ct);
        var refused = verdict as SmsVerdict.Refused;
        if (refused is not null && !storeRefusals) return new FollowUpOutcome.Refused(refused, Stored: false);

        var followupId = await s.QuerySingleOrDefaultAsync<Guid>("""
            insert into lead_followups (clinic_id, lead_id, procedure, channel, template, assigned_agent, pdf_link, booking_link, status)
            values (@ClinicId, @LeadId, @Procedure, 'SMS', @Template, @Agent, @PdfLink, @BookingLink, @Status)
            returning id
            """, new { call.ClinicId, LeadId = l.Id, Procedure = procedure.Name, Template = templateName, clinic.Agent, PdfLink = pdfLink, BookingLink = bookingLink,
                Status = refused is null ? "queued" : "failed" }, ct);
        // A refused message is kept as failed, with the reason, so a person sees it; it never reaches the outbox.
        var messageId = await SmsContent.InsertAsync(s, vault, call.ClinicId, followupId, phoneHash, new SmsContent(phone, body), SmsPurpose.FollowUp, ct,
            status: refused is null ? "queued" : "failed", error: refused is null ? null : "refused: " + refused.Detail);
        if (refused is not null)
        {
            await AuditLog.WriteAsync(s, call.ClinicId, "sms_refused", "lead", l.Id.ToString(),
                new { followupId, messageId, reason = refused.Reason, source = call.Source }, ct);
            return new FollowUpOutcome.Refused(refused, Stored: true);
        }
        var notBefore = QuietHours.NextAllowed(DateTimeOffset.UtcNow, clinic.QuietStart, clinic.QuietEnd, ClinicTime.Zone(clinic.Timezone));
        await Outbox.EnqueueAsync(s, call.ClinicId, SmsSender.JobKind, new SmsJob(messageId), notBefore, ct);
        await AuditLog.WriteAsync(s, call.ClinicId, "followup_queued", "lead", l.Id.ToString(),
            new { followupId, messageId, procedure = procedure.Name, template = templateName, source = call.Source, segments }, ct);
        return new FollowUpOutcome.Queued(l.Id, followupId, messageId, procedure.Name, pdfLink, clinic.Agent, Replay: false);
    }

    static FollowUpOutcome.Queued Replayed(ExistingFollowUp e) =>
        new(e.LeadId, e.FollowupId, e.MessageId, e.Procedure, e.PdfLink, e.Agent, Replay: true);

    /// <summary>Vapi's endedReason values for calls that never reached a person.</summary>
    static bool NotReached(string? endedReason, bool followUpVoicemail) => endedReason switch
    {
        null => false,
        "voicemail" => !followUpVoicemail,
        _ => endedReason.Contains("did-not-answer", StringComparison.Ordinal)
             || endedReason.Contains("customer-busy", StringComparison.Ordinal)
             || endedReason.Contains("failed-to-connect", StringComparison.Ordinal)
             || endedReason.StartsWith("call.start.error", StringComparison.Ordinal),
    };

    /// <summary>
    /// A name a caller (or a Vapi payload) supplied goes into a text sent from the clinic's number:
    /// it must read as a name — at most four words of letters with spaces, hyphens, apostrophes or
    /// full stops, 40 characters — or the text says "there". No link, number or sentence of the
    /// sender's choosing reaches a patient's phone under the clinic's name (issue 14).
    /// </summary>
    internal static string? SmsName(string? name) =>
        name is { Length: > 0 and <= 40 } n && n.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length <= 4
        && n.All(c => char.IsLetter(c) || c is ' ' or '-' or '\'' or '’' or '.'
                      || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.NonSpacingMark or System.Globalization.UnicodeCategory.SpacingCombiningMark)
            ? n : null;

    static string? Clean(string? name) =>
        string.IsNullOrWhiteSpace(name) ? null : name.Trim() is { Length: <= 100 } n ? n : name.Trim()[..100];

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Follow-up queued for clinic {ClinicId}: lead {LeadId}, procedure {Procedure}")]
        public static partial void Queued(ILogger logger, Guid clinicId, Guid leadId, string procedure);

        [LoggerMessage(Level = LogLevel.Information, Message = "No follow-up for clinic {ClinicId}: {Reason}")]
        public static partial void NotDue(ILogger logger, Guid clinicId, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Follow-up SMS for clinic {ClinicId} refused by the SMS guard: {Reason}")]
        public static partial void Refused(ILogger logger, Guid clinicId, string reason);
    }
}
