using Frontdesk.Audit;
using Frontdesk.Privacy;
using Frontdesk.Privacy.Detection;

namespace Frontdesk.StaffConsole;

/// <summary>How the console words what the receptionist did, and how little of a caller it shows.</summary>
public static class ConsoleText
{
    /// <summary>First name only, or the last three digits of the number: enough to recognise a caller
    /// on a screen someone else may see, not enough to identify a stranger.</summary>
    public static string Caller(string? name, string? phone)
    {
        if (!string.IsNullOrWhiteSpace(name)) return name.Trim().Split(' ', 2)[0];
        if (phone is null) return "Unknown number";
        var digits = new string(phone.Where(char.IsAsciiDigit).ToArray());
        return digits.Length >= 3 ? "Number ending " + digits[^3..] : "Unknown number";
    }

    /// <summary>A patient on a diary line: first name only; an erased or nameless patient says so.</summary>
    public static string FirstName(string? name) => string.IsNullOrWhiteSpace(name) ? "(no name)" : name.Trim().Split(' ', 2)[0];

    /// <summary>A number as the console lists it: country code and last three digits.</summary>
    public static string MaskedPhone(string? phone)
    {
        if (phone is null) return "—";
        var digits = new string(phone.Where(char.IsAsciiDigit).ToArray());
        if (digits.Length < 6) return "•••";
        return (phone.StartsWith('+') ? "+" + digits[..2] : "") + " ••• ••• " + digits[^3..];
    }

    /// <summary>What happened on a call, from our bookings and follow-ups first, then Vapi's endedReason.</summary>
    public static (string Text, string Kind) Outcome(string? endedReason, string? status, bool booked, bool followedUp)
    {
        if (booked) return ("Booked", "ok");
        if (followedUp) return ("Hung up · follow-up sent", "info");
        return endedReason switch
        {
            null when status is not "ended" => ("In progress", "info"),
            null => ("Ended", ""),
            "customer-ended-call" => ("Caller hung up", ""),
            "assistant-ended-call" or "assistant-said-end-call-phrase" or "assistant-ended-call-after-message-spoken" => ("Ended by receptionist", ""),
            "assistant-forwarded-call" or "assistant-forwarded-call-successfully" => ("Transferred", "info"),
            "silence-timed-out" => ("Silence, ended", "warn"),
            "exceeded-max-duration" => ("Too long, ended", "warn"),
            var r when r.Contains("voicemail", StringComparison.Ordinal) => ("Voicemail", "warn"),
            var r when r.Contains("did-not-answer", StringComparison.Ordinal) || r.Contains("customer-busy", StringComparison.Ordinal) => ("No answer", "warn"),
            var r when r.Contains("error", StringComparison.Ordinal) || r.Contains("failed", StringComparison.Ordinal) => ("Failed: " + r, "bad"),
            var r => (r, ""),
        };
    }

    public static (string Text, string Kind) Delivery(string? smsStatus) => smsStatus switch
    {
        "delivered" => ("Delivered", "ok"),
        "sent" or "accepted" or "queued" or "sending" => (smsStatus == "queued" ? "Queued" : "Sent", "info"),
        "undelivered" or "failed" => ("Not delivered", "bad"),
        "unknown" or "review" => ("Needs review", "warn"),
        null => ("No message", ""),
        var s => (s, ""),
    };

    /// <summary>A summary as the console shows it: detected personal data replaced by its type
    /// (the same rule as the public transcript), so a screen shows what was asked, not who.</summary>
    public static string? Sanitized(PiiDetector detector, string? text) =>
        string.IsNullOrWhiteSpace(text) ? null : Routing.PublicTranscript(text, detector.Detect(text));

    /// <summary>Every console view of patient data leaves a row in the clinic's audit trail: which page,
    /// how many records, never a value.</summary>
    public static Task ViewedAsync(DbSession s, ConsoleUser user, string page, string? entity, string? entityId, object? detail, CancellationToken ct) =>
        AuditLog.WriteAsync(s, user.ClinicId, "console_viewed", entity ?? "console_page", entityId ?? page,
            detail is null ? new { page } : new { page, detail }, ct);
}
