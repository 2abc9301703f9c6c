using System.ComponentModel.DataAnnotations;
using Frontdesk.Audit;
using Frontdesk.Manage;
using Frontdesk.Messaging;
using Frontdesk.Privacy;

namespace Frontdesk.Reminders;

/// <summary>Reminder worker settings (section <c>Reminders</c>: <c>Reminders__ScanSeconds</c>, <c>Reminders__BatchSize</c>).</summary>
public sealed class ReminderOptions
{
    /// <summary>How often each instance looks for due reminders. A reminder is queued up to two scans
    /// early, with its send time as the outbox job's not-before, so it still goes at its minute.</summary>
    [Range(0.05, 3600)] public double ScanSeconds { get; set; } = 15;

    /// <summary>Reminders claimed per scan (each is queued in its own transaction).</summary>
    [Range(1, 10_000)] public int BatchSize { get; set; } = 200;

    public TimeSpan Lookahead => TimeSpan.FromSeconds(ScanSeconds * 2);
}

/// <summary>What one scan did.</summary>
public sealed record ReminderScan(int Queued, int Skipped, int Refused);

/// <summary>
/// Turns due reminders into SMS. The rows are armed by the database (a trigger on bookings and on
/// clinics: supabase/migrations/…_reminders_replies.sql), so every booking path gets them. Each due row
/// is claimed with FOR UPDATE SKIP LOCKED and, in one transaction, becomes one <c>sms_messages</c> row
/// (purpose <c>reminder</c>, through <see cref="SmsGuard"/>) plus its outbox job whose not-before is the
/// reminder's send time, and the row moves to <c>queued</c>: queued exactly once on any number of
/// instances, durable from then on like every SMS. A scanner rather than one outbox job per reminder
/// armed at booking time: the rows are the state a move or a settings change rewrites in SQL, they
/// keep days-ahead reminders out of the outbox's due-job counts, and opt-outs and the patient's
/// current number are read when the reminder is due, not when the booking was made. At send time the
/// SMS sender checks again that the booking is still live at that time and has not started
/// (<see cref="SendRule"/> never lets a reminder out after the appointment).
/// </summary>
public sealed partial class ReminderScanner(Db db, Vault vault, SmsGuard guard, Outbox outbox, ManageLinkToken manageLinks, PublicUrl urls,
    ReminderOptions options, ILogger<ReminderScanner> log) : BackgroundService
{
    static readonly RequestClaims Worker = RequestClaims.AsSystem(SystemPath.Worker);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // The rows stay armed; the next scan takes them. The worker must outlive any one failure.
                Log.ScanFailed(log, e.GetType().Name, e);
            }
            try { await Task.Delay(TimeSpan.FromSeconds(options.ScanSeconds), stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    sealed record Due(Guid ClinicId, Guid Id);

    /// <summary>One scan: every reminder due within the lookahead, each in its own transaction.</summary>
    public async Task<ReminderScan> RunOnceAsync(CancellationToken ct)
    {
        var due = await db.QueryOnceAsync<Due>(Worker, """
            select clinic_id, id from booking_reminders
            where status = 'armed' and send_at <= now() + @Lookahead
            order by send_at limit @Batch
            """, new { options.Lookahead, Batch = options.BatchSize }, ct);
        int queued = 0, skipped = 0, refused = 0;
        foreach (var d in due)
        {
            switch (await QueueAsync(d, ct))
            {
                case Outcome.Queued: queued++; break;
                case Outcome.Skipped: skipped++; break;
                case Outcome.Refused: refused++; break;
            }
        }
        if (queued > 0) outbox.Signal();
        if (queued + skipped + refused > 0) Log.Scanned(log, queued, skipped, refused);
        return new ReminderScan(queued, skipped, refused);
    }

    enum Outcome { Gone, Queued, Skipped, Refused }

    sealed record Candidate(Guid ClinicId, Guid Id, Guid BookingId, TimeSpan Offset, DateTimeOffset StartsAt, DateTimeOffset SendAt,
        string BookingStatus, DateTimeOffset BookingStartsAt, string? Phone, string? PatientName, bool Erased, string Practitioner,
        string ClinicName, string Timezone, string? Template, bool Enabled, bool Superseded);

    // Locked, and skipped when another instance holds it: that one is queueing it.
    const string ClaimSql = """
        select r.clinic_id, r.id, r.booking_id, r.remind_offset, r.starts_at, r.send_at,
               b.status, b.starts_at, p.phone, p.name, coalesce(p.erased_at is not null, false), pr.name,
               c.name, c.timezone, c.reminder_template, c.reminders_enabled,
               exists (select 1 from booking_reminders later
                       where later.clinic_id = r.clinic_id and later.booking_id = r.booking_id and later.starts_at = r.starts_at
                         and later.status = 'armed' and later.remind_offset < r.remind_offset and later.send_at <= now())
        from booking_reminders r
        join bookings b on b.clinic_id = r.clinic_id and b.id = r.booking_id
        join clinics c on c.id = r.clinic_id
        join practitioners pr on pr.clinic_id = b.clinic_id and pr.id = b.practitioner_id
        left join patients p on p.clinic_id = b.clinic_id and p.id = b.patient_id
        where r.clinic_id = @ClinicId and r.id = @Id and r.status = 'armed'
        for update of r skip locked
        """;

    async Task<Outcome> QueueAsync(Due due, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(Worker, ct);
        if (await s.QuerySingleOrDefaultAsync<Candidate>(ClaimSql, new { due.ClinicId, due.Id }, ct) is not { } r) return Outcome.Gone;

        var phone = r.Erased ? null : Phone.ToE164(r.Phone, Phone.RegionForTimezone(r.Timezone));
        var reason = r switch
        {
            // The triggers remove armed rows of cancelled and moved bookings; these are belt and braces.
            { BookingStatus: not "confirmed" } => "the booking is no longer live",
            _ when r.BookingStartsAt != r.StartsAt => "the booking moved",
            _ when r.BookingStartsAt <= DateTimeOffset.UtcNow => "the appointment has started",
            { Enabled: false } => "reminders are off",
            { Superseded: true } => "a later reminder of the same appointment is due too",
            _ when phone is null => "no usable phone number",
            _ => null,
        };
        byte[]? hash = null;
        if (reason is null)
        {
            hash = await vault.CallerHashAsync(s, r.ClinicId, CallerSubject.Phone(phone!), ct);
            if (await s.QuerySingleOrDefaultAsync<bool>(SmsOptOuts.ExistsSql, new { r.ClinicId, Hash = hash, Phone = phone }, ct))
                reason = "the patient opted out of SMS";
        }
        if (reason is not null)
        {
            await s.ExecuteAsync("""
                update booking_reminders set status = 'skipped', skip_reason = @Reason, updated_at = now() where clinic_id = @ClinicId and id = @Id
                """, new { r.ClinicId, r.Id, Reason = reason }, ct);
            await s.CommitAsync(ct);
            Log.Skipped(log, r.ClinicId, r.BookingId);
            return Outcome.Skipped;
        }

        var zone = ClinicTime.Zone(r.Timezone);
        var link = urls.For(manageLinks.PathFor(r.ClinicId, r.BookingId, r.StartsAt));
        var body = ReminderTemplate.Render(r.Template, r.PatientName, r.StartsAt, zone, r.Practitioner, r.ClinicName, link);
        // A refusal (country, quota) is kept as a failed message so a person sees it in the review queue.
        var (messageId, refused) = await SmsContent.QueueAsync(s, vault, guard, r.ClinicId, hash!, new SmsContent(phone!, body), SmsPurpose.Reminder,
            r.SendAt, ct);
        await s.ExecuteAsync("""
            update booking_reminders set status = 'queued', message_id = @MessageId, updated_at = now() where clinic_id = @ClinicId and id = @Id
            """, new { r.ClinicId, r.Id, MessageId = messageId }, ct);
        await AuditLog.WriteAsync(s, r.ClinicId, refused is null ? "reminder_queued" : "sms_refused", "booking", r.BookingId.ToString(),
            new { reminderId = r.Id, messageId, offset = IsoDuration.Format(r.Offset), reason = refused?.Reason }, ct);
        await s.CommitAsync(ct);
        return refused is null ? Outcome.Queued : Outcome.Refused;
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Reminders: {Queued} queued, {Skipped} skipped, {Refused} refused by the SMS guard")]
        public static partial void Scanned(ILogger logger, int queued, int skipped, int refused);

        [LoggerMessage(Level = LogLevel.Information, Message = "Reminder for clinic {ClinicId} booking {BookingId} skipped")]
        public static partial void Skipped(ILogger logger, Guid clinicId, Guid bookingId);

        [LoggerMessage(Level = LogLevel.Error, Message = "Reminder scan failed ({ExceptionType}); the next scan retries")]
        public static partial void ScanFailed(ILogger logger, string exceptionType, Exception e);
    }
}

public static class ReminderServices
{
    public static IServiceCollection AddReminders(this IServiceCollection services)
    {
        services.AddOptions<ReminderOptions>().BindConfiguration("Reminders").ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<ReminderOptions>>().Value);
        services.AddSingleton<ReminderScanner>();
        services.AddHostedService(sp => sp.GetRequiredService<ReminderScanner>());
        return services;
    }
}
