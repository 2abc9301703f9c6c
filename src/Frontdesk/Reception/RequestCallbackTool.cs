using System.Text.Json;
using System.Text.Json.Nodes;
using Frontdesk.Calls;

namespace Frontdesk.Reception;

/// <summary>
/// request_callback {reason, preferredTime?, callbackNumber?}: the team rings the caller back. One
/// callback per call (asking again in the same call updates it); the number is the one the caller
/// rings from, or the one they give when theirs is withheld or they want another. An effect tool: a
/// re-issue with the same arguments changes nothing. A reason that describes an emergency makes the
/// callback urgent.
/// </summary>
public sealed class RequestCallbackTool(Callbacks callbacks, TimeProvider clock) : IVapiEffectTool, IVapiToolSchema
{
    public string Name => "request_callback";

    public string Description => "Asks the clinic's team to call the caller back. Use it when the caller wants a person and " +
                                 "cannot be transferred, or asks to be called back.";

    public JsonObject Parameters()
    {
        var schema = ToolArgs.Schema(
            ("reason", "string", "What the call back is about, in the caller's words."),
            ("preferredTime", "string", "When the caller would like the call, if they said. Optional."),
            ("callbackNumber", "string", "Only if the caller wants to be called on another number, or theirs is withheld. Optional."));
        schema["required"] = new JsonArray("reason");
        return schema;
    }

    public async Task<string> InvokeAsync(VapiContext context, JsonElement arguments, CancellationToken ct)
    {
        var reason = ToolArgs.Text(arguments, "reason", Callbacks.MaxReasonChars)
                     ?? throw new VapiToolException("What should I tell the team the call back is about?");
        var preferred = ToolArgs.Text(arguments, "preferredTime", Callbacks.MaxPreferredTimeChars);
        var region = Phone.RegionForTimezone(context.Clinic.Timezone);
        string phone;
        if (ToolArgs.Text(arguments, "callbackNumber", 40) is { } given)
            phone = Phone.ToE164(given, region) ?? throw new VapiToolException("That number doesn't look right. Could you say it again, digit by digit?");
        else
            phone = Phone.ToE164(context.CustomerNumber, region)
                    ?? throw new VapiToolException("I can't see the number you're calling from. What's the best number for the team to call you back on?");

        var s = context.Transaction;
        var urgent = CareQuestions.Classify(reason).Kind == CareKind.Emergency;
        await callbacks.OpenAsync(s, context.Clinic.Id,
            new NewCallback(context.CallId, Callbacks.Callback, "request", phone, reason, preferred, urgent), replace: true, ct);

        var ending = phone.Length > 4 ? phone[^4..] : phone;
        if (preferred is not null) return $"Done: the team will call you back on the number ending {ending}, {preferred} as you asked.";
        var settings = await ReceptionStore.ReadAsync(s, context.Clinic.Id, ct);
        var zone = ClinicTime.Zone(context.Clinic.Timezone);
        var now = clock.GetUtcNow();
        if (OpeningHours.IsOpen(settings.Week, zone, now))
            return $"Done: the team will call you back on the number ending {ending} as soon as they can today.";
        return OpeningHours.NextOpening(settings.Week, zone, now) is { } next
            ? $"Done: the clinic is closed now, so the team will call you back on the number ending {ending} once it opens, {OpeningHours.SpokenRelative(next, now, zone)}."
            : $"Done: the team will call you back on the number ending {ending} as soon as they can.";
    }
}
