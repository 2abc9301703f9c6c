using Frontdesk.Audit;
using Frontdesk.Booking;
using Frontdesk.BookingPage;
using Frontdesk.Calls;
using Frontdesk.Calendar;
using Frontdesk.Clinics;
using Frontdesk.FollowUp;
using Frontdesk.Inbox;
using Frontdesk.Knowledge;
using Frontdesk.Latency;
using Frontdesk.Manage;
using Frontdesk.Messaging;
using Frontdesk.Privacy;
using Frontdesk.Reception;
using Frontdesk.Reminders;
using Frontdesk.StaffConsole;
using Frontdesk.Review;
using Frontdesk.Stats;
using Frontdesk.Tenancy;
using Frontdesk.Waitlist;

if (args is ["migrate", ..])
    return await Commands.MigrateAsync(args);
if (args is ["rotate-keys", ..])
    return await Commands.RotateKeysAsync(args[1..]);
if (args is ["app-login", ..])
    return await Commands.AppLoginAsync(args, Console.In);
if (args is ["staff", ..])
    return await StaffCommand.RunAsync(args[1..], Console.In, Console.Out);

try
{
    var app = Frontdesk.FrontdeskApp.Build(args);
    // The start-up checks and the database first, so that a problem the operator must fix is reported
    // below as one line, before the host would log it with a stack trace.
    app.Services.GetService<Microsoft.Extensions.Options.IStartupValidator>()?.Validate();
    app.Services.GetRequiredService<DatabaseHost>();
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (StartupException.Describe(e) is { } problem)
{
    // A missing secret or an unusable data folder is the operator's to fix: one line, no stack trace.
    Console.Error.WriteLine($"Frontdesk cannot start: {problem}");
    return 1;
}

public partial class Program;

namespace Frontdesk
{
public static class FrontdeskApp
{
    /// <summary>The whole service, one line per feature. Also used by the bench tool to host it in-process.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]) && string.IsNullOrEmpty(builder.Configuration["urls"]))
            builder.WebHost.UseUrls("http://127.0.0.1:5080");
        configure?.Invoke(builder);

        builder.Services.AddFrontdeskPlatform(builder.Configuration);   // options, PostgreSQL (local or URL), problems, OpenTelemetry
        builder.Services.AddFrontdeskAuth();                            // HS256 bearer tokens, Supabase claim names
        builder.Services.AddHostedService<DevBootstrap>();              // development: demo clinic and printed tokens
        builder.Services.AddAuditSealer();                              // links committed audit rows into each clinic's hash chain
        builder.Services.AddKnowledge();                                // knowledge base, lookup_knowledge tool, speculative prefetch
        builder.Services.AddCustomLlm();                                // custom-LLM relay to the upstream model (FRONTDESK_LLM_*)
        builder.Services.AddTurnLatency();                              // per-turn latency from Vapi end-of-call reports
        builder.Services.AddPrivacy(builder.Logging);                   // PII detector, envelope encryption, log redaction
        builder.Services.AddMessaging(builder.Configuration);           // Twilio client, outbox worker and its SMS sender
        builder.Services.AddCalls();                                    // Vapi webhook: booking tools, assistant config
        builder.Services.AddSmsGuard();                                 // per-clinic SMS countries and daily quota, checked where SMS are enqueued
        builder.Services.AddFollowUp();                                 // seed Task 2: hang-up follow-up planner and booking links
        builder.Services.AddCalendar();                                 // Google Calendar client, outbox worker, busy-time sync
        builder.Services.AddBookingPage();                              // the patient's booking page behind the SMS link
        builder.Services.AddManageLinks();                              // signed /manage/{token} links to one booking (reminders, replies, pages)
        builder.Services.AddManagePage();                               // issue 18: /manage/{token}: the patient moves or cancels one booking
        builder.Services.AddWaitlist();                                 // issue 18: waitlist entries, offers of freed slots, claim links, join_waitlist
        builder.Services.AddReview();                                   // issue 15: review queue, outbox counts for health and metrics
        builder.Services.AddReception();                                // issue 17: opening hours, transfers, callbacks, caller variables, knowledge gaps
        builder.Services.AddReminders();                                // issue 18: the worker that turns due reminders into SMS
        builder.Services.AddInbox();                                    // issue 18: replies to reminders (C / R / anything else → inbox)
        builder.Services.AddConsole();                                  // the staff console: accounts, sign-in, cookie sessions, work queue

        var app = builder.Build();
        var options = app.Services.GetRequiredService<FrontdeskOptions>();

        app.UseServerTiming();                          // Server-Timing: app;dur= on every response
        app.UseRequestLog();                            // request lines with route templates: no tokens, no query strings
        app.UseProblemExceptions();                     // every failure is problem+json, never a stack trace
        app.UseStatusCodePages();
        app.UseBodyLimit(options.MaxRequestBodyBytes);  // 413 beyond the limit, chunked bodies included
        app.UseAuthentication();
        app.UseClinicScope();                           // 403 cross-tenant (audited) before authorization, binding or validation
        app.UseAuthorization();

        app.MapOpenApi();                               // GET /openapi/v1.json
        app.MapHealth();                                // GET /healthz
        app.MapAuditHealth();                           // /healthz detail "audit": unsealed backlog and its age
        app.MapClinics();                               // clinic setup, practitioners, audit trail
        app.MapPatients();                              // patients, GDPR access and erasure
        app.MapSlots();                                 // slot generation and availability
        app.MapClaims();                                // seed Task 1: claim_slot_atomic, hold_slot
        app.MapBookings();                              // bookings: read, move, cancel
        app.MapClinicData();                            // seed Task 5: get_clinic_data under RLS
        app.MapPrivacy();                               // seed Task 3: redact_and_store_pii, clinical notes, GDPR export
        app.MapPrivacySettings();                       // issue 13: per-clinic call content retention (worker, /healthz detail)
        app.MapKnowledge();                             // seed Task 4: knowledge documents and search
        app.MapCustomLlm();                             // seed Task 4: POST /vapi/llm/chat/completions, streamed
        app.MapTurnLatency();                           // seed Task 4: GET /api/clinics/{id}/latency (TTFB distribution)
        app.MapVapiWebhook();                           // POST /vapi/webhook: tool calls, assistant-request, end-of-call reports
        app.MapVapiReconciliation();                    // PATCH /api/clinics/{id} {vapiApiKey}; missed-webhook reconciliation state
        app.MapFollowUp();                              // seed Task 2: trigger_followup_sms
        app.MapFollowUpSettings();
        app.MapSmsSettings();                           // GET/PUT /api/clinics/{id}/sms: allowed countries, daily quota                      // a clinic's outbound agent, SMS template, quiet hours, procedure catalog
        app.MapBookingPage();                           // GET/POST /book/{token}: free times, atomic claim, cancel link
        app.MapTwilio();                                // Twilio delivery status and inbound STOP/START/HELP
        app.MapCalendar();                              // issue 7: calendar links, sync status, Google push notifications
        app.MapManagePage();                            // issue 18: GET/POST /manage/{token}: move or cancel one booking
        app.MapWaitlist();                              // issue 18: /api/clinics/{id}/waitlist, GET/POST /waitlist/{token} claim page
        app.MapReview();                                // issue 15: GET/POST /api/clinics/{id}/review: messages and jobs that need a person
        app.MapReception();                             // issue 17: reception settings, callbacks, knowledge gaps
        app.MapReminderSettings();                      // issue 18: GET/PUT /api/clinics/{id}/reminders: on/off, offsets, template
        app.MapInbox();                                 // issue 18: GET /api/clinics/{id}/inbox, PATCH …/inbox/{itemId}: replies for staff
        app.MapAttendance();                            // issue 18: PUT /api/bookings/{clinicId}/{bookingId}/attendance: no-shows
        app.MapStats();                                 // issue 18: GET /api/clinics/{id}/stats: calls, bookings by source, reminders, no-shows
        app.MapVapiSettings();                          // GET/PUT /api/clinics/{id}/vapi: assistant ids, secret, HMAC
        app.MapConsole();                               // issue 19: / and /console — the staff console
        return app;
    }
}
}
