using System.Text.Json.Nodes;
using Frontdesk.Calls;

namespace Frontdesk.Reception;

/// <summary>
/// Vapi's <c>transfer-destination-request</c> (the assistant's transferCall tool has no fixed
/// destination). Shapes from Vapi's OpenAPI: ServerMessageResponseTransferDestinationRequest
/// {destination?, message?, error?}; TransferDestinationNumber {type: "number", number, message,
/// transferPlan}; TransferPlan.mode — "warm-transfer-wait-for-operator-to-speak-first-and-then-say-summary"
/// (the person at the front desk answers, then hears a summary of the call made by summaryPlan from
/// {{transcript}}) or "blind-transfer".
/// While the clinic is open and has a transfer number: that destination. Otherwise no destination,
/// a spoken message saying when the clinic will call back, and an open callback for the caller (one
/// per call: asking again adds nothing).
/// </summary>
public sealed class TransferDestinationHandler(Db db, Callbacks callbacks, TimeProvider clock) : IVapiMessageHandler
{
    public const string MessageType = "transfer-destination-request";
    public const string WarmMode = "warm-transfer-wait-for-operator-to-speak-first-and-then-say-summary";
    public const string BlindMode = "blind-transfer";

    public string Type => MessageType;

    public async Task<object?> HandleAsync(VapiContext context, CancellationToken ct)
    {
        if (context.Session is { } s) return await AnswerAsync(s, context, ct);
        return await db.InTransactionAsync(context.Claims, session => AnswerAsync(session, context, ct), ct);
    }

    async Task<JsonObject> AnswerAsync(DbSession s, VapiContext context, CancellationToken ct)
    {
        var clinic = context.Clinic;
        var settings = await ReceptionStore.ReadAsync(s, clinic.Id, ct);
        var zone = ClinicTime.Zone(clinic.Timezone);
        var now = clock.GetUtcNow();
        var open = OpeningHours.IsOpen(settings.Week, zone, now);
        if (open && settings.TransferNumber is { } number)
            return new JsonObject { ["destination"] = Destination(number, settings.TransferMode, clinic.Name) };

        var when = open
            ? "as soon as someone is free"
            : OpeningHours.NextOpening(settings.Week, zone, now) is { } next
                ? "when the clinic opens, " + OpeningHours.SpokenRelative(next, now, zone)
                : "as soon as they can";
        var why = open ? "I can't put you through to the team right now" : "I'm sorry, the clinic is closed right now";
        var phone = Phone.ToE164(context.CustomerNumber, Phone.RegionForTimezone(clinic.Timezone));
        string spoken, forModel;
        if (phone is null)
        {
            spoken = $"{why}. I can't see the number you're calling from — if you tell me the best number, the team will call you back {when}.";
            forModel = "Transfer not made: " + (open ? "the clinic has no transfer number" : "the clinic is closed") +
                       ". The caller's number is withheld: ask for a number and call request_callback with it as callbackNumber.";
        }
        else
        {
            await callbacks.OpenAsync(s, clinic.Id, new NewCallback(context.CallId, Callbacks.Callback, open ? "no_transfer_number" : "closed", phone,
                open ? "Asked to speak to someone; the clinic has no transfer number." : "Asked to speak to someone while the clinic was closed.",
                null, Urgent: false), replace: false, ct);
            spoken = $"{why}, but I've asked the team to call you back {when}, on the number ending {phone[^4..]}.";
            forModel = "Transfer not made: " + (open ? "the clinic has no transfer number" : "the clinic is closed") +
                       ". A callback is already arranged; offer to help with anything else (request_callback only to add details).";
        }
        // Vapi's answer to transfer-destination-request has two members, destination and error (its OpenAPI,
        // ServerMessageResponseTransferDestinationRequest); the error goes to the model as the tool's result,
        // so the sentence for the caller travels inside it.
        return new JsonObject { ["error"] = $"{forModel} Tell the caller: \"{spoken}\"" };
    }

    static JsonObject Destination(string number, string mode, string clinicName) => new()
    {
        ["type"] = "number",
        ["number"] = number,
        ["message"] = "Putting you through to the team now. Please hold for a moment.",
        ["transferPlan"] = mode == ReceptionSettings.Blind
            ? new JsonObject { ["mode"] = BlindMode }
            : new JsonObject
            {
                ["mode"] = WarmMode,
                ["summaryPlan"] = new JsonObject
                {
                    ["enabled"] = true,
                    ["messages"] = new JsonArray(
                        new JsonObject
                        {
                            ["role"] = "system",
                            ["content"] = $"You brief a receptionist at {clinicName} who is taking over a phone call from the AI receptionist. " +
                                          "In two or three short sentences say who is calling (their name if they gave it), what they want and " +
                                          "anything already done on the call. Never read out card, bank or identity numbers.",
                        },
                        new JsonObject { ["role"] = "user", ["content"] = "Here is the transcript:\n\n{{transcript}}\n\n" }),
                },
            },
    };
}

/// <summary>
/// An end-of-call report whose endedReason says a transfer did not connect opens a callback (one per
/// call). Values from Vapi's Call.endedReason enum (OpenAPI): the transfer failed, the operator was
/// busy, a warm transfer timed out or was cancelled, or the caller hung up while being transferred.
/// "assistant-forwarded-call" is a transfer that connected.
/// </summary>
public sealed class TransferFailedCallback(Db db, Callbacks callbacks) : IVapiMessageHandler
{
    public static readonly IReadOnlySet<string> FailedTransfer = new HashSet<string>(StringComparer.Ordinal)
    {
        "call.in-progress.error-transfer-failed",
        "call.forwarding.operator-busy",
        "call.in-progress.error-warm-transfer-max-duration",
        "call.in-progress.error-warm-transfer-assistant-cancelled",
        "call.in-progress.error-warm-transfer-silence-timeout",
        "call.in-progress.error-warm-transfer-microphone-timeout",
        "customer-ended-call-before-warm-transfer",
        "customer-ended-call-after-warm-transfer-attempt",
        "customer-ended-call-during-transfer",
    };

    public string Type => "end-of-call-report";

    public async Task<object?> HandleAsync(VapiContext context, CancellationToken ct)
    {
        if (context.Message.Str("endedReason") is not { } reason || !FailedTransfer.Contains(reason)) return null;
        // Nobody to ring back: the call itself (calls.ended_reason) still shows what happened.
        if (Phone.ToE164(context.CustomerNumber, Phone.RegionForTimezone(context.Clinic.Timezone)) is not { } phone) return null;
        var callback = new NewCallback(context.CallId, Callbacks.Callback, "transfer_failed", phone,
            $"Was being transferred to the team and the transfer did not connect ({reason}).", null, Urgent: false);
        // In the report's claim transaction when there is one: the callback commits with the stored answer.
        if (context.Session is { } s) await callbacks.OpenAsync(s, context.Clinic.Id, callback, replace: false, ct);
        else await db.InTransactionAsync(context.Claims, session => callbacks.OpenAsync(session, context.Clinic.Id, callback, replace: false, ct), ct);
        return null;
    }
}
