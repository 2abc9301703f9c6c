using Frontdesk.BookingPage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Frontdesk.StaffConsole;

/// <summary>
/// The staff console (ARCHITECTURE decision 15, issue 19): server-rendered pages under /console,
/// signed in with staff accounts, every query through <see cref="Db"/> with the staff member's claims
/// (<c>staff:&lt;id&gt;</c>, the account's role) so RLS applies exactly as to the API. Pages call the
/// API's handlers where one exists, so validation, role checks and audit rows are the API's.
/// </summary>
public static class ConsoleEndpoints
{
    public static IServiceCollection AddConsole(this IServiceCollection services)
    {
        services.AddOptions<ConsoleOptions>().BindConfiguration("Console").ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<ConsoleOptions>>().Value);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<StaffAccounts>();
        services.AddSingleton<ConsoleSessions>();
        services.AddSingleton<ConsoleForms>();
        services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, ConsoleAuthHandler>(ConsoleAuthHandler.SchemeName, null);
        ConsolePolicies.Add(services.AddAuthorizationBuilder());
        // The work queue: one provider per kind of item a person must act on.
        services.AddSingleton<IWorkQueueProvider, ReviewQueueProvider>();
        services.AddSingleton<IWorkQueueProvider, CalendarFailuresProvider>();
        return services;
    }

    public static void MapConsole(this IEndpointRouteBuilder app)
    {
        // The printed address opens the console instead of a 404.
        app.MapGet("/", () => TypedResults.Redirect(ConsoleRoutes.Today)).ExcludeFromDescription();

        var console = app.MapGroup(ConsoleRoutes.Root).ExcludeFromDescription()
            .AddEndpointFilter(async (ctx, next) =>
            {
                // Headers first, so refusals and error pages carry them too.
                PageGuard.ApplySecurityHeaders(ctx.HttpContext.Response, ConsoleLayout.ContentSecurityPolicy);
                return await next(ctx);
            });
        // Sign-in and the forced password change carry their own rules; everything else needs a full session
        // (endpoint policies add to a group's, so the two sets live in two groups).
        SignInPages.Map(console);
        var pages = console.MapGroup("").RequireAuthorization(ConsolePolicies.Staff);
        AccountPages.Map(pages);
        TodayPage.Map(pages);
        WorkQueuePage.Map(pages);
        PatientPages.Map(pages);
        BookingPages.Map(pages);
        ReportsPage.Map(pages);
        SettingsPages.Map(pages);
        StaffPages.Map(pages);
        AuditPage.Map(pages);
    }
}
