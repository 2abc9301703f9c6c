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
}

/// <summary>
/// The rule every outgoing SMS passes at send time, not only when it is queued: a retry or a backlog
/// after an outage must not go out at 2 am, and a STOP received since enqueue wins. Messages the
/// patient is waiting for (a booking confirmation) ignore quiet hours; follow-ups and reminders keep
/// them. Pure, so reminders and any later sender apply the same rule.
/// </summary>
public static class SendRule
{
    public static bool KeepsQuietHours(string purpose) => purpose is not SmsPurpose.Confirmation;

    public static SendDecision Decide(DateTimeOffset now, string purpose, bool optedOut,
        TimeOnly? quietStart, TimeOnly? quietEnd, TimeZoneInfo clinicZone)
    {
        if (optedOut) return new SendDecision.OptedOut();
        if (!KeepsQuietHours(purpose)) return new SendDecision.Send();
        var allowed = QuietHours.NextAllowed(now, quietStart, quietEnd, clinicZone);
        return allowed > now ? new SendDecision.Wait(allowed) : new SendDecision.Send();
    }
}
