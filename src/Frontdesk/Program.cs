using Frontdesk.Booking;
using Frontdesk.Calendar;
using Frontdesk.Clinics;
using Frontdesk.Tenancy;

if (args is ["migrate", ..])
    return await Commands.MigrateAsync(args);

var app = Frontdesk.FrontdeskApp.Build(args);
await app.RunAsync();
return 0;

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
        builder.Services.AddCalendar();                                 // Google Calendar client, outbox worker, busy-time sync

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
        app.MapCalendar();                              // issue 7: calendar links, sync status, Google push notifications
        return app;
    }
}
}
