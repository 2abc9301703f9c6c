using Frontdesk.Privacy;

namespace Frontdesk.Messaging;

/// <summary>What happened to one text queued for a patient.</summary>
public abstract record PatientSmsOutcome
{
    /// <summary>Queued for the sender (outbox job written): signal the outbox after commit.</summary>
    public sealed record Queued(Guid MessageId) : PatientSmsOutcome;
    /// <summary>The SMS guard refused it: kept as a failed message with the reason, never sent.</summary>
    public sealed record Refused(Guid MessageId, SmsVerdict.Refused Verdict) : PatientSmsOutcome;
    /// <summary>The number opted out (STOP): nothing written.</summary>
    public sealed record OptedOut : PatientSmsOutcome;
}

/// <summary>
/// A text to a patient's number from a worker or a patient page (not an API caller): opt-out by the
/// number's hash, the SMS guard, the sealed message row and its outbox job — in the caller's
/// transaction, so it commits with the change it reports. A refusal is stored as <c>failed</c> with
/// the guard's reason (issue 14), so nothing is silently dropped.
/// </summary>
public static class PatientSms
{
    public static async Task<PatientSmsOutcome> QueueAsync(DbSession s, Vault vault, SmsGuard guard, Guid clinicId, string phone,
        string body, string purpose, CancellationToken ct)
    {
        var hash = await vault.CallerHashAsync(s, clinicId, CallerSubject.Phone(phone), ct);
        if (await s.QuerySingleOrDefaultAsync<bool>(SmsOptOuts.ExistsSql, new { ClinicId = clinicId, Hash = hash, Phone = phone }, ct))
            return new PatientSmsOutcome.OptedOut();
        var refused = await guard.CheckAsync(s, clinicId, phone, ct) as SmsVerdict.Refused;
        var id = await SmsContent.InsertAsync(s, vault, clinicId, null, hash, new SmsContent(phone, SmsText.Fit(body)), purpose, ct,
            status: refused is null ? "queued" : "failed", error: refused is null ? null : "refused: " + refused.Detail);
        if (refused is not null) return new PatientSmsOutcome.Refused(id, refused);
        await Outbox.EnqueueAsync(s, clinicId, SmsSender.JobKind, new SmsJob(id), null, ct);
        return new PatientSmsOutcome.Queued(id);
    }

    /// <summary>Whether the number opted out, by its hash (for deciding before anything is held for it).</summary>
    public static async Task<bool> OptedOutAsync(DbSession s, Vault vault, Guid clinicId, string phone, CancellationToken ct) =>
        await s.QuerySingleOrDefaultAsync<bool>(SmsOptOuts.ExistsSql,
            new { ClinicId = clinicId, Hash = await vault.CallerHashAsync(s, clinicId, CallerSubject.Phone(phone), ct), Phone = phone }, ct);
}
