using System.ComponentModel.DataAnnotations;

namespace Frontdesk.Messaging;

/// <summary>How long each kind of SMS stays worth sending, and how the sender reconciles an attempt
/// whose outcome it does not know (FRONTDESK_SMS_*, FRONTDESK_TWILIO_TIMEOUT_SECONDS).</summary>
public sealed class SmsOptions
{
    /// <summary>A hang-up follow-up older than this (since it first became due) is given up, not sent.</summary>
    [Range(0.0001, 720)] public double FollowUpWindowHours { get; set; } = 24;

    /// <summary>A booking confirmation: the patient expects it now; hours later it only confuses.</summary>
    [Range(0.0001, 720)] public double ConfirmationWindowHours { get; set; } = 6;

    /// <summary>An appointment reminder (a later feature).</summary>
    [Range(0.0001, 720)] public double ReminderWindowHours { get; set; } = 12;

    /// <summary>A waitlist offer: worth sending only while its hold lasts (Waitlist__HoldMinutes, default 30 min).</summary>
    [Range(0.0001, 720)] public double OfferWindowHours { get; set; } = 0.5;

    /// <summary>Any other message.</summary>
    [Range(0.0001, 720)] public double MessageWindowHours { get; set; } = 24;

    /// <summary>Wait this long after an attempt whose outcome is unknown before asking Twilio's Messages
    /// list: the status callback (which names our message id) usually settles it first, and a message
    /// still in Twilio's queue may not show under DateSent yet.</summary>
    [Range(0, 3600)] public double ReconcileDelaySeconds { get; set; } = 60;

    /// <summary>Every request to Twilio gives up after this; keep it below the outbox lease and the host's shutdown grace.</summary>
    [Range(0.1, 120)] public double TwilioTimeoutSeconds { get; set; } = 15;

    public TimeSpan Window(string purpose) => TimeSpan.FromHours(purpose switch
    {
        SmsPurpose.FollowUp => FollowUpWindowHours,
        SmsPurpose.Confirmation => ConfirmationWindowHours,
        SmsPurpose.Reminder => ReminderWindowHours,
        SmsPurpose.Offer => OfferWindowHours,
        _ => MessageWindowHours,
    });

    public TimeSpan ReconcileDelay => TimeSpan.FromSeconds(ReconcileDelaySeconds);

    public static void Bind(SmsOptions o, IConfiguration c)
    {
        c.GetSection("Frontdesk:Sms").Bind(o);
        o.FollowUpWindowHours = OutboxOptions.Number(c["FRONTDESK_SMS_FOLLOWUP_WINDOW_HOURS"]) ?? o.FollowUpWindowHours;
        o.ConfirmationWindowHours = OutboxOptions.Number(c["FRONTDESK_SMS_CONFIRMATION_WINDOW_HOURS"]) ?? o.ConfirmationWindowHours;
        o.ReminderWindowHours = OutboxOptions.Number(c["FRONTDESK_SMS_REMINDER_WINDOW_HOURS"]) ?? o.ReminderWindowHours;
        o.OfferWindowHours = OutboxOptions.Number(c["FRONTDESK_SMS_OFFER_WINDOW_HOURS"]) ?? o.OfferWindowHours;
        o.MessageWindowHours = OutboxOptions.Number(c["FRONTDESK_SMS_MESSAGE_WINDOW_HOURS"]) ?? o.MessageWindowHours;
        o.ReconcileDelaySeconds = OutboxOptions.Number(c["FRONTDESK_SMS_RECONCILE_DELAY_SECONDS"]) ?? o.ReconcileDelaySeconds;
        o.TwilioTimeoutSeconds = OutboxOptions.Number(c["FRONTDESK_TWILIO_TIMEOUT_SECONDS"]) ?? o.TwilioTimeoutSeconds;
    }
}

/// <summary>What an SMS is for (sms_messages.purpose): decides its window and whether quiet hours apply.</summary>
public static class SmsPurpose
{
    public const string FollowUp = "followup";
    public const string Confirmation = "confirmation";
    public const string Reminder = "reminder";
    public const string Message = "message";
    /// <summary>A waitlist offer of a freed slot with a claim link (issue 18); keeps quiet hours.</summary>
    public const string Offer = "offer";
}
