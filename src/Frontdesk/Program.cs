using Frontdesk.Booking;
using Frontdesk.Clinics;
using Frontdesk.Knowledge;
using Frontdesk.Latency;
using Frontdesk.Tenancy;

if (args is ["migrate", ..])
    return await Commands.MigrateAsync(args);

var builder = WebApplication.CreateBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]) && string.IsNullOrEmpty(builder.Configuration["urls"]))
    builder.WebHost.UseUrls("http://127.0.0.1:5080");

builder.Services.AddFrontdeskPlatform(builder.Configuration);   // options, PostgreSQL (local or URL), problems, OpenTelemetry
builder.Services.AddFrontdeskAuth();                            // HS256 bearer tokens, Supabase claim names
builder.Services.AddKnowledge();                               // knowledge base, lookup_knowledge tool, speculative prefetch
builder.Services.AddCustomLlm();                               // custom-LLM relay to the upstream model (FRONTDESK_LLM_*)
builder.Services.AddTurnLatency();                             // per-turn latency from Vapi end-of-call reports
builder.Services.AddHostedService<DevBootstrap>();              // development: demo clinic and printed tokens

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
app.MapKnowledge();                             // seed Task 4: knowledge documents and search
app.MapCustomLlm();                             // seed Task 4: POST /vapi/llm/chat/completions, streamed
app.MapTurnLatency();                           // seed Task 4: GET /api/clinics/{id}/latency (TTFB distribution)

await app.RunAsync();
return 0;

public partial class Program;
