using System.Net;
using System.Text.Json;

namespace Frontdesk.Bench.Validate;

/// <summary>
/// Issue 17 (functional lines, no speed claims): list_my_appointments, reschedule_appointment with one
/// and with two bookings, a re-issued reschedule moving once, the change texted with a manage link, and
/// procedure-filtered availability (who consults, how long) — through real-shaped Vapi tool calls.
/// </summary>
public static class VoiceChanges
{
    public const string Key = "voice";
    public const string Title = "Reception: reschedule by voice and procedures";

    public static async Task RunAsync(ValidationRun run)
    {
        var s = new Section(Key, Title);
        run.Report.Sections.Add(s);
        run.Progress("▶ Reception: list, reschedule, procedures by voice …");
        var c = await run.CreateClinicAsync("voice", slots: 8, patients: 0, smsFrom: "+14155550100");
        var svc = run.Api.ServiceToken();
        var admin = run.Api.Token(c.Id, "admin");
        var caller = NewPhone();
        var stranger = NewPhone();
        var call = $"call-{Guid.NewGuid()}";

        async Task<(string Text, bool Error)> Tool(string phone, string name, object args, string? callId = null, string? toolCallId = null)
        {
            var r = await run.Api.SendAsync(HttpMethod.Post, "/vapi/webhook", null, ToolCall(callId ?? $"call-{Guid.NewGuid()}", phone,
                toolCallId ?? $"call_{Guid.NewGuid():N}", name, args), new Dictionary<string, string> { ["X-Vapi-Secret"] = c.VapiSecret });
            if (r.Status != HttpStatusCode.OK || r.Body.ValueKind != JsonValueKind.Object || !r.Body.TryGetProperty("results", out var results))
                return ($"HTTP {(int)r.Status}", true);
            var first = results[0];
            return first.TryGetProperty("error", out var e) ? (e.GetString() ?? "", true) : (first.GetProperty("result").GetString() ?? "", false);
        }

        static Guid? Reference(string text) =>
            Guid.TryParse(text[(text.LastIndexOf(' ') + 1)..].TrimEnd('.'), out var id) ? id : null;

        // Two bookings for the caller, one for someone else.
        var first = Reference((await Tool(caller, "book_appointment", new { slotId = c.Slots[0], patientName = "Val Idate" })).Text);
        var second = Reference((await Tool(caller, "book_appointment", new { slotId = c.Slots[2], patientName = "Val Idate" })).Text);
        var theirs = Reference((await Tool(stranger, "book_appointment", new { slotId = c.Slots[4], patientName = "Someone Else" })).Text);

        var list = await Tool(caller, "list_my_appointments", new { });
        var unknown = await Tool(NewPhone(), "list_my_appointments", new { });
        var listed = first is not null && second is not null && theirs is not null && !list.Error
                     && list.Text.Contains(first.Value.ToString(), StringComparison.Ordinal) && list.Text.Contains(second.Value.ToString(), StringComparison.Ordinal)
                     && !list.Text.Contains(theirs.Value.ToString(), StringComparison.Ordinal)
                     && !unknown.Text.Contains("bookingId", StringComparison.Ordinal);
        s.Check("list_my_appointments names the caller's own bookings only", listed,
            $"caller: {Count(list.Text)} booking(s) listed, another caller's {(theirs is not null && list.Text.Contains(theirs.Value.ToString(), StringComparison.Ordinal) ? "LISTED" : "not listed")}; unknown number: \"{Short(unknown.Text)}\"");

        // Two upcoming bookings and no bookingId: it asks, and nothing moves.
        var since = System.Diagnostics.Stopwatch.GetTimestamp();
        var ask = await Tool(caller, "reschedule_appointment", new { slotId = c.Slots[6] }, call, "call_ask");
        var stillFirst = await SlotOfAsync(run, c.Id, admin, first);
        var moved = await Tool(caller, "reschedule_appointment", new { bookingId = second, slotId = c.Slots[6] }, call, "call_move");
        var reissued = await Tool(caller, "reschedule_appointment", new { bookingId = second, slotId = c.Slots[6] }, call, "call_move_again");
        var nowAt = await SlotOfAsync(run, c.Id, admin, second);
        var freed = await AvailableAsync(run, c.Id, admin, c.Slots[2]);
        var audit = await run.Api.GetAsync($"/api/clinics/{c.Id}/audit", admin);
        var moves = audit.Ok && audit.Body.ValueKind == JsonValueKind.Array
            ? audit.Body.EnumerateArray().Count(a => a.TryGetProperty("action", out var act) && act.GetString() == "moved"
                                                     && a.TryGetProperty("entityId", out var id) && id.GetString() == second?.ToString())
            : -1;
        s.Block.Add($"  {(ask.Text.Contains("Which one", StringComparison.Ordinal) ? "✅" : "❌")} Two bookings, no bookingId: asked which");
        s.Block.Add($"  {(nowAt == c.Slots[6] ? "✅" : "❌")} Named booking moved; old slot {(freed ? "free again" : "still taken")}");
        s.Check("Reschedule with two bookings asks which, then moves the named one atomically",
            ask.Text.Contains("Which one", StringComparison.Ordinal) && stillFirst == c.Slots[0] && moved.Text.StartsWith("Moved", StringComparison.Ordinal)
            && nowAt == c.Slots[6] && freed,
            $"ask: \"{Short(ask.Text)}\"; move: \"{Short(moved.Text)}\"; booking now on the new slot: {nowAt == c.Slots[6]}, old slot free: {freed}");
        s.Check("A re-issued reschedule moves once", reissued == moved && moves == 1,
            $"re-issue answered the same: {reissued == moved}; 'moved' audit rows for the booking: {moves}");

        // One upcoming booking left after cancelling the first: no bookingId needed.
        var cancel = await Tool(caller, "cancel_appointment", new { bookingId = first });
        var single = await Tool(caller, "reschedule_appointment", new { slotId = c.Slots[7] });
        s.Check("Reschedule with one booking moves it without a bookingId; cancel by id cancels only that one",
            cancel.Text.StartsWith("Cancelled", StringComparison.Ordinal) && single.Text.StartsWith("Moved", StringComparison.Ordinal)
            && await SlotOfAsync(run, c.Id, admin, second) == c.Slots[7],
            $"cancel: \"{Short(cancel.Text)}\"; move: \"{Short(single.Text)}\"");

        if (run.Twilio is null)
            s.Check("Changes texted to the patient with the manage link", false, "not observable: run with --twilio-fake or --local");
        else
        {
            var sms = await run.Twilio.WaitForAsync(caller, since, TimeSpan.FromSeconds(10));
            var manage = sms is not null && sms.Body.Contains("/manage/", StringComparison.Ordinal) && sms.Body.Contains("has moved to", StringComparison.Ordinal);
            s.Check("Changes texted to the patient with the manage link", manage,
                sms is null ? "no SMS to the caller within 10 s" : $"\"{Short(sms.Body, 90)}\"");
        }

        // Procedures and who does them: a second practitioner with 60-minute slots.
        var p2 = (await Api.Expect(run.Api.PostAsync($"/api/clinics/{c.Id}/practitioners", svc, new { name = "Dr Hour" }), "create practitioner")).Id();
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(3).AddHours(9), TimeSpan.Zero);
        var longSlots = (await Api.Expect(run.Api.PostAsync($"/api/clinics/{c.Id}/slots", svc,
                new { practitionerId = p2, startsAt = start, endsAt = start.AddHours(2), durationMinutes = 60 }), "create slots"))
            .Body.GetProperty("slots").EnumerateArray().Select(x => x.GetProperty("id").GetGuid()).ToList();
        var put = await run.Api.SendAsync(HttpMethod.Put, $"/api/clinics/{c.Id}/procedures/Rhinoplasty", admin,
            new { synonyms = NoseJob, consultationMinutes = 60, practitionerIds = new[] { c.Practitioner, p2 } });
        var nobody = await run.Api.SendAsync(HttpMethod.Put, $"/api/clinics/{c.Id}/procedures/Facelift", admin,
            new { synonyms = Array.Empty<string>(), practitionerIds = Array.Empty<Guid>() });
        var bad = await run.Api.SendAsync(HttpMethod.Put, $"/api/clinics/{c.Id}/procedures/Facelift", admin,
            new { synonyms = Array.Empty<string>(), practitionerIds = new[] { Guid.NewGuid() } });
        var offered = await Tool(NewPhone(), "check_availability", new { procedure = "nose job" });
        var onlyLong = !offered.Error && longSlots.All(x => offered.Text.Contains(x.ToString(), StringComparison.Ordinal))
                       && c.Slots.All(x => !offered.Text.Contains(x.ToString(), StringComparison.Ordinal));
        var tooShort = await Tool(NewPhone(), "book_appointment", new { slotId = c.Slots[1], procedure = "Rhinoplasty" });
        var nobodyCheck = await Tool(NewPhone(), "check_availability", new { procedure = "Facelift" });
        s.Check("Procedure settings stored; a practitioner the clinic does not have is a 400",
            put.Ok && put.Body.GetProperty("consultationMinutes").GetInt32() == 60 && nobody.Ok && bad.Status == HttpStatusCode.BadRequest,
            $"PUT Rhinoplasty → {(int)put.Status}, PUT Facelift (nobody) → {(int)nobody.Status}, unknown practitioner → {(int)bad.Status}");
        s.Check("Procedure-filtered availability: only its practitioners' slots long enough", onlyLong
            && tooShort.Text.StartsWith("That time isn't available for a Rhinoplasty consultation", StringComparison.Ordinal),
            $"check_availability offered {longSlots.Count(x => offered.Text.Contains(x.ToString(), StringComparison.Ordinal))}/{longSlots.Count} 60-minute slots and {c.Slots.Count(x => offered.Text.Contains(x.ToString(), StringComparison.Ordinal))} 15-minute ones; 15-minute slot booked for it: \"{Short(tooShort.Text)}\"");
        s.Check("A procedure nobody consults for is said so, not booked", nobodyCheck.Text.StartsWith("Nobody at ", StringComparison.Ordinal),
            $"\"{Short(nobodyCheck.Text)}\"");
    }

    static readonly string[] NoseJob = ["nose job"];

    static string NewPhone() => "+44790" + Random.Shared.Next(1000000, 9999999).ToString(System.Globalization.CultureInfo.InvariantCulture);

    static int Count(string text) => text.Split("(bookingId ", StringSplitOptions.None).Length - 1;

    static string Short(string text, int max = 70) => text.Length <= max ? text : text[..max] + "…";

    static async Task<Guid?> SlotOfAsync(ValidationRun run, Guid clinic, string token, Guid? booking)
    {
        if (booking is null) return null;
        var r = await run.Api.GetAsync($"/api/bookings/{clinic}/{booking}", token);
        return r.Ok ? r.Body.GetProperty("slotId").GetGuid() : null;
    }

    static async Task<bool> AvailableAsync(ValidationRun run, Guid clinic, string token, Guid slot)
    {
        var from = Uri.EscapeDataString(DateTimeOffset.UtcNow.ToString("O"));
        var to = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(30).ToString("O"));
        var r = await run.Api.GetAsync($"/api/clinics/{clinic}/slots?from={from}&to={to}", token);
        return r.Ok && r.Body.EnumerateArray().Any(x => x.GetProperty("id").GetGuid() == slot && x.GetProperty("available").GetBoolean());
    }

    /// <summary>A Vapi tool-calls message as Vapi sends it (toolCallList and toolWithToolCallList).</summary>
    static object ToolCall(string callId, string phone, string toolCallId, string name, object arguments) => new
    {
        message = new
        {
            timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            type = "tool-calls",
            toolCallList = new[] { new { id = toolCallId, type = "function", function = new { name, arguments = JsonSerializer.Serialize(arguments) } } },
            toolWithToolCallList = new[]
            {
                new { type = "function", function = new { name }, toolCall = new { id = toolCallId, type = "function",
                    function = new { name, arguments = JsonSerializer.Serialize(arguments) } } },
            },
            call = new { id = callId, status = "in-progress" },
            customer = new { number = phone },
        },
    };
}
