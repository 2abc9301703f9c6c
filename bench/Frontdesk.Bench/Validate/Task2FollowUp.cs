using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Frontdesk.Bench.Validate;

/// <summary>Seed Task 2: contextual memory hand-off (hang-up → SMS follow-up).</summary>
public static class Task2FollowUp
{
    public static async Task RunAsync(ValidationRun run)
    {
        var s = new Section("task2", "Task 2: Contextual Memory Hand-off");
        run.Report.Sections.Add(s);
        run.Progress("▶ Task 2: hang-up follow-up SMS …");
        var c = await run.CreateClinicAsync("t2", slots: 4, patients: 0, smsFrom: "+14155550100");
        var token = run.Api.Token(c.Id, "admin", "voxan_001");
        var callId = $"call_xyz_123_{Guid.NewGuid():N}"[..28];
        var seed = new
        {
            eventType = "call_ended", callId, voxanAgentId = "voxan_001", patientPhone = "+1-202-555-1234", patientName = "Jane Doe",
            leadId = "lead_xyz_789", keyword = "Rhinoplasty", bookingConfirmed = false, callDuration = 245, transcript = "interested in rhinoplasty... hung up",
        };

        var since = Stopwatch.GetTimestamp();
        var r = await run.Api.PostAsync("/functions/v1/trigger_followup_sms", token, seed);
        var sms = run.Twilio is null ? null : await run.Twilio.WaitForAsync("+12025551234", since, TimeSpan.FromSeconds(10));
        var smsMs = sms is null ? double.NaN : Stopwatch.GetElapsedTime(since, sms.ReceivedTimestamp).TotalMilliseconds;
        string? Prop(string name) => r.Body.ValueKind == JsonValueKind.Object && r.Body.TryGetProperty(name, out var v) ? v.ToString() : null;
        var pdfLink = Prop("pdfLink") ?? "";
        var agent = Prop("assignedAgent");
        var leadId = Prop("leadId");
        var correctPdf = pdfLink.EndsWith("/guides/rhinoplasty-guide.pdf", StringComparison.Ordinal) && sms is not null && sms.Body.Contains(pdfLink, StringComparison.Ordinal);
        var bookingLink = sms is not null && sms.Body.Contains("/book/", StringComparison.Ordinal);
        s.Metrics["webhookMs"] = r.Ms;
        if (!double.IsNaN(smsMs)) { s.Metrics["smsMs"] = smsMs; run.Report.Samples["sms"] = [smsMs]; }

        s.Block.Add("Event: call_ended (booking_confirmed=false, procedure=\"rhinoplasty\")");
        s.Block.Add($"  {(r.Status == HttpStatusCode.Accepted && leadId is not null ? "✅" : "❌")} Lead created in database");
        s.Block.Add($"  {(sms is not null ? "✅" : "❌")} SMS sent to patient phone");
        s.Block.Add($"  {(correctPdf ? "✅" : "❌")} Correct PDF link included");
        s.Block.Add($"  {(agent == "sarah_outbound" ? "✅" : "❌")} Agent assignment: {agent}");
        s.Block.Add($"  {(smsMs < 5000 ? "✅" : "❌")} Execution time: {(double.IsNaN(smsMs) ? "no SMS observed" : $"{smsMs:F0} ms")}");

        // Replaying the same call: same ids, nothing sent.
        var countBefore = run.Twilio?.Accepted.Count ?? 0;
        var replay = await run.Api.PostAsync("/functions/v1/trigger_followup_sms", token, seed);
        await Task.Delay(800);
        var replaySame = replay.Ok && replay.Body.TryGetProperty("leadId", out var rl) && rl.ToString() == leadId;
        var replaySent = (run.Twilio?.Accepted.Count ?? 0) - countBefore;

        // A real-shaped Vapi end-of-call report for a caller who asked about liquid rhinoplasty.
        var vapiCall = $"call-{Guid.NewGuid()}";
        var assistant = await run.Api.GetAsync($"/api/clinics/{c.Id}", run.Api.Token(c.Id, "admin"));
        var assistantId = assistant.Ok ? assistant.Body.GetProperty("vapiAssistantId").GetString() : null;
        var phoneNumberId = assistant.Ok ? assistant.Body.GetProperty("vapiPhoneNumberId").GetString() : null;
        var report = EndOfCallReport(vapiCall, assistantId, phoneNumberId, "+12025550187");
        var since2 = Stopwatch.GetTimestamp();
        var hook = await run.Api.SendAsync(HttpMethod.Post, "/vapi/webhook", null, report, new Dictionary<string, string> { ["X-Vapi-Secret"] = c.VapiSecret });
        var sms2 = run.Twilio is null ? null : await run.Twilio.WaitForAsync("+12025550187", since2, TimeSpan.FromSeconds(10));
        var sms2Ms = sms2 is null ? double.NaN : Stopwatch.GetElapsedTime(since2, sms2.ReceivedTimestamp).TotalMilliseconds;
        var liquid = sms2 is not null && sms2.Body.Contains("liquid-rhino-guide.pdf", StringComparison.Ordinal);
        var dup = await run.Api.SendAsync(HttpMethod.Post, "/vapi/webhook", null, report, new Dictionary<string, string> { ["X-Vapi-Secret"] = c.VapiSecret });
        await Task.Delay(800);
        var dupSms = run.Twilio?.Accepted.Count(m => m.To == "+12025550187") ?? 0;
        var badSecret = await run.Api.SendAsync(HttpMethod.Post, "/vapi/webhook", null, report, new Dictionary<string, string> { ["X-Vapi-Secret"] = "wrong" });

        s.Check("Webhook triggered within 2s of hangup", r.Ms < 2000 && hook.Ms < 2000 && hook.Ok,
            $"call_ended accepted in {r.Ms:F0} ms ({(int)r.Status}); Vapi end-of-call-report accepted in {hook.Ms:F0} ms ({(int)hook.Status}); wrong secret → {(int)badSecret.Status}");
        s.Check("SMS sent within 5s", smsMs < 5000 && sms2Ms < 5000,
            run.Twilio is null ? "not observable: run with --twilio-fake or --local"
                : $"call_ended → SMS {(double.IsNaN(smsMs) ? "none" : $"{smsMs:F0} ms")}; end-of-call-report → SMS {(double.IsNaN(sms2Ms) ? "none" : $"{sms2Ms:F0} ms")}");
        s.Check("Correct procedure-specific content", correctPdf && bookingLink && liquid,
            $"rhinoplasty → {pdfLink}; booking link present: {bookingLink}; \"liquid rhinoplasty\" transcript → liquid guide: {liquid}");
        s.Check("Lead tracked for follow-up", r.Status == HttpStatusCode.Accepted && leadId is not null && agent == "sarah_outbound" && replaySame && replaySent == 0 && dupSms == 1 && dup.Ok,
            $"lead {leadId}, agent {agent}; replayed call_ended: same ids {replaySame}, new SMS {replaySent}; duplicate end-of-call-report: {dupSms} SMS in total");
    }

    internal static object EndOfCallReport(string callId, string? assistantId, string? phoneNumberId, string customer)
    {
        var now = DateTimeOffset.UtcNow;
        return new
        {
            message = new
            {
                timestamp = now.ToUnixTimeMilliseconds(),
                type = "end-of-call-report",
                endedReason = "customer-ended-call",
                startedAt = now.AddMinutes(-4).ToString("o"),
                endedAt = now.ToString("o"),
                cost = 0.21,
                durationSeconds = 241.5,
                call = new { id = callId, orgId = "org-validate", type = "inboundPhoneCall", status = "queued", cost = 0, assistantId, phoneNumberId, createdAt = now.AddMinutes(-4).ToString("o") },
                customer = new { number = customer },
                phoneNumber = new { id = phoneNumberId, number = "+14155550100" },
                analysis = new { },
                artifact = new
                {
                    transcript = "AI: Thank you for calling, how can I help?\nUser: Hi, I was wondering about liquid rhinoplasty, how much does it cost?\nAI: Liquid rhinoplasty starts from 450 pounds. Would you like to book a consultation?\nUser: Let me think about it, I have to go.",
                    messages = new object[]
                    {
                        new { role = "bot", message = "Thank you for calling, how can I help?", time = now.AddMinutes(-4).ToUnixTimeMilliseconds(), secondsFromStart = 0.5 },
                        new { role = "user", message = "Hi, I was wondering about liquid rhinoplasty, how much does it cost?", time = now.AddMinutes(-3).ToUnixTimeMilliseconds(), secondsFromStart = 4.1 },
                    },
                    performanceMetrics = new
                    {
                        turnLatencies = new object[]
                        {
                            new { modelLatency = 310, voiceLatency = 180, transcriberLatency = 90, endpointingLatency = 60, turnLatency = 640 },
                            new { modelLatency = 280, voiceLatency = 170, transcriberLatency = 85, endpointingLatency = 55, turnLatency = 590 },
                        },
                    },
                },
            },
        };
    }
}
