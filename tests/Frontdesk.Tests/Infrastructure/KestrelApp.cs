using Frontdesk.Bench;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Tests.Infrastructure;

/// <summary>
/// The app on real Kestrel at a loopback port, for the browser tests (cookies, redirects, CSP as a browser
/// sees them), on the shared test database with TestApp's secrets. No public base URL: links the server
/// writes use the address Kestrel bound, so a link taken from an SMS opens this server.
/// </summary>
public static class KestrelApp
{
    /// <param name="twilio">The loopback Twilio this server sends through; none → SMS stay queued.</param>
    public static async Task<WebApplication> StartAsync(FakeTwilio? twilio = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["FRONTDESK_DATABASE_URL"] = TestCluster.AdminConnectionString,
            ["FRONTDESK_APP_DATABASE_URL"] = TestCluster.AppConnectionString,
            ["FRONTDESK_MIGRATE_ON_START"] = "false",
            ["FRONTDESK_JWT_SECRET"] = FrontdeskFactory.JwtSecret,
            ["FRONTDESK_DATA_DIR"] = TestApp.Factory.DataDir,
            ["FRONTDESK_MASTER_KEY"] = FrontdeskFactory.MasterKey,
        };
        if (twilio is not null)
        {
            settings["TWILIO_API_BASE_URL"] = twilio.Url;
            settings["TWILIO_ACCOUNT_SID"] = FakeTwilio.AccountSid;
            settings["TWILIO_AUTH_TOKEN"] = FakeTwilio.AuthToken;
            settings["TWILIO_FROM"] = FakeTwilio.From;
        }
        var app = Frontdesk.FrontdeskApp.Build(["--environment", "Testing"], b =>
        {
            b.WebHost.UseUrls("http://127.0.0.1:0");
            b.Logging.ClearProviders();
            b.Configuration.AddInMemoryCollection(settings);
        });
        await app.StartAsync();
        return app;
    }
}
