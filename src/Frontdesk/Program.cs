using Frontdesk.Booking;
using Frontdesk.Calls;
using Frontdesk.Clinics;
using Frontdesk.FollowUp;
using Frontdesk.Messaging;
using Frontdesk.Tenancy;

if (args is ["migrate", ..])
    return await Commands.MigrateAsync(args);

var builder = WebApplication.CreateBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]) && string.IsNullOrEmpty(builder.Configuration["urls"]))
    builder.WebHost.UseUrls("http://127.0.0.1:5080");

builder.Services.AddFrontdeskPlatform(builder.Configuration);   // options, PostgreSQL (local or URL), problems, OpenTelemetry
builder.Services.AddFrontdeskAuth();                            // HS256 bearer tokens, Supabase claim names
builder.Services.AddHostedService<DevBootstrap>();              // development: demo clinic and printed tokens
builder.Services.AddMessaging(builder.Configuration);            // Twilio client, outbox worker and its SMS sender
builder.Services.AddCalls();                                    // Vapi webhook: booking tools, assistant config
builder.Services.AddFollowUp();                                 // seed Task 2: hang-up follow-up planner and booking links

var app = builder.Build();
var options = app.Services.GetRequiredService<FrontdeskOptions>();

app.UseProblemExceptions();                     // every failure is problem+json, never a stack trace
app.UseStatusCodePages();
app.UseBodyLimit(options.MaxRequestBodyBytes);  // 413 beyond the limit, chunked bodies included
app.UseAuthentication();
app.UseAuthorization();

app.MapOpenApi();                               // GET /openapi/v1.json
app.MapHealth();                                // GET /healthz
app.MapClinics();                               // clinic setup, practitioners, audit trail
app.MapPatients();                              // patients, GDPR access and erasure
app.MapSlots();                                 // slot generation and availability
app.MapClaims();                                // seed Task 1: claim_slot_atomic, hold_slot
app.MapBookings();                              // bookings: read, move, cancel
app.MapClinicData();                            // seed Task 5: get_clinic_data under RLS
app.MapVapiWebhook();                           // POST /vapi/webhook: tool calls, assistant-request, end-of-call reports
app.MapFollowUp();                              // seed Task 2: trigger_followup_sms
app.MapTwilio();                                // Twilio delivery status and inbound STOP/START/HELP

await app.RunAsync();
return 0;

public partial class Program;
