namespace Frontdesk.Inbox;

/// <summary>What an inbound SMS is to the reply handling (not to the consent handling, which stays in
/// Messaging/TwilioEndpoints.cs).</summary>
public enum ReplyKind
{
    /// <summary>One of Twilio's own keywords (STOP, START, HELP …): consent or help, not a reply.</summary>
    Keyword,
    /// <summary>C, YES, CONFIRM: confirms the next booking.</summary>
    Confirm,
    /// <summary>R, RESCHEDULE, CHANGE: answered with the booking's manage link.</summary>
    Reschedule,
    /// <summary>Anything else: an inbox item for staff.</summary>
    Message,
}

/// <summary>
/// The words a reminder offers (Reminders/ReminderTemplate.cs). Compared trimmed and case-insensitively,
/// the whole text and nothing else ("yes please" is a message for a person). YES is also Twilio's
/// opt-in keyword: the consent handling treats it as START as before, and it confirms too. Twilio's
/// opt-out keywords (CANCEL among them) are never reply words: Twilio acts on them itself.
/// </summary>
public static class ReplyWords
{
    public static readonly IReadOnlySet<string> OptOut = new HashSet<string>(["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]);
    public static readonly IReadOnlySet<string> OptIn = new HashSet<string>(["START", "YES", "UNSTOP"]);
    public static readonly IReadOnlySet<string> Help = new HashSet<string>(["HELP", "INFO"]);
    public static readonly IReadOnlySet<string> Confirm = new HashSet<string>(["C", "YES", "CONFIRM"]);
    public static readonly IReadOnlySet<string> Reschedule = new HashSet<string>(["R", "RESCHEDULE", "CHANGE"]);

    /// <param name="text">The message body as Twilio sent it.</param>
    public static ReplyKind Classify(string? text)
    {
        var word = Normalize(text);
        if (Confirm.Contains(word)) return ReplyKind.Confirm;
        if (Reschedule.Contains(word)) return ReplyKind.Reschedule;
        // The consent handling's own reading (trimmed, upper case, nothing else): what it acts on is
        // not a message, and everything it ignores ("stop." included) reaches a person.
        return IsKeyword(Keyword(text)) ? ReplyKind.Keyword : ReplyKind.Message;
    }

    /// <summary>How the consent handling reads a body: trimmed, upper case.</summary>
    public static string Keyword(string? text) => (text ?? "").Trim().ToUpperInvariant();

    static bool IsKeyword(string word) => OptOut.Contains(word) || OptIn.Contains(word) || Help.Contains(word);

    /// <summary>One of Twilio's own keywords as the consent handling reads it (YES included, though it also confirms).</summary>
    public static bool IsTwilioKeyword(string? text) => IsKeyword(Keyword(text));

    /// <summary>Trimmed, upper case, a final full stop or exclamation mark dropped ("Yes!" and "c." are reply words too).</summary>
    public static string Normalize(string? text) => Keyword(text).TrimEnd('.', '!').TrimEnd();
}
