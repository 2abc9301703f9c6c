using Frontdesk.FollowUp;

namespace Frontdesk.Messaging;

/// <summary>What the send-time rule decided for one message.</summary>
public abstract record SendDecision
{
    public sealed record Send : SendDecision;
    /// <summary>Inside the clinic's quiet hours: not before <paramref name="At"/>. Waiting is not an attempt.</summary>
    public sealed record Wait(DateTimeOffset At) : SendDecision;
    /// <summary>The recipient opted out since the message was queued: never send it.</summary>
    public sealed record OptedOut : SendDecision;
    /// <summary>It could only go at or after <c>notAfter</c> (a reminder's appointment): never send it.</summary>
    public sealed record TooLate : SendDecision;
}

/// <summary>
/// The rule every outgoing SMS passes at send time, not only when it is queued: a retry or a backlog
/// after an outage must not go out at 2 am, and a STOP received since enqueue wins. Messages the
/// patient is waiting for (a booking confirmation) ignore quiet hours; follow-ups and reminders keep
/// them. Pure, so reminders and any later sender apply the same rule.
/// A message with a <c>notAfter</c> (a reminder: its appointment's start) never goes at or after it:
/// inside quiet hours that end too late it is <see cref="SendDecision.TooLate"/>, not deferred. (A
/// reminder is queued for the last allowed minute before quiet hours when its own time falls inside
/// them — <c>reminder_send_at</c> in SQL — so this only decides retries and late backlogs.)
/// </summary>
public static class SendRule
{
    public static bool KeepsQuietHours(string purpose) => purpose is not SmsPurpose.Confirmation;

    public static SendDecision Decide(DateTimeOffset now, string purpose, bool optedOut,
        TimeOnly? quietStart, TimeOnly? quietEnd, TimeZoneInfo clinicZone, DateTimeOffset? notAfter = null)
    {
        if (optedOut) return new SendDecision.OptedOut();
        if (now >= notAfter) return new SendDecision.TooLate();
        if (!KeepsQuietHours(purpose)) return new SendDecision.Send();
        var allowed = QuietHours.NextAllowed(now, quietStart, quietEnd, clinicZone);
        if (allowed <= now) return new SendDecision.Send();
        return allowed >= notAfter ? new SendDecision.TooLate() : new SendDecision.Wait(allowed);
    }
}
