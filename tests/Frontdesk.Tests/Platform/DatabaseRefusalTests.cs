using System.Net;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Tests.Platform;

/// <summary>Issue 14: a value the database refuses is the client's 400 in a request's tenant
/// session, and still our 500 (logged as an error) on a named system path.</summary>
public class DatabaseRefusalTests
{
    [Fact]
    public async Task A_refused_client_value_is_a_400_problem_but_the_same_refusal_on_a_system_path_stays_a_logged_500()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var log = new ErrorLog { MinimumLevel = LogLevel.Warning };
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders().AddProvider(log);
        builder.Services.AddProblemDetails();
        await using var app = builder.Build();
        app.UseProblemExceptions();
        const string Sql = "insert into practitioners (clinic_id, name) values (@C, @N) returning id";
        app.MapGet("/tenant", async () => await TestApp.Db.QueryOnceAsync<Guid>(
            RequestClaims.ForClinic(clinic.Id, "refusal-test", "admin"), Sql, new { C = clinic.Id, N = "a\0b" }, default));
        app.MapGet("/system", async () => await TestApp.Db.QueryOnceAsync<Guid>(
            RequestClaims.AsSystem(SystemPath.Health), Sql, new { C = clinic.Id, N = "a\0b" }, default));
        await app.StartAsync();
        using var client = app.GetTestClient();

        using var tenant = await client.GetAsync("/tenant");
        Assert.Equal(HttpStatusCode.BadRequest, tenant.StatusCode);
        var problem = JsonDocument.Parse(await tenant.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(Problems.Validation, problem.GetProperty("type").GetString());
        Assert.Equal("A text value holds a character that cannot be stored (such as NUL).", problem.GetProperty("detail").GetString());
        Assert.Contains(log.Entries, e => e.StartsWith("Warning Frontdesk: Request", StringComparison.Ordinal) && e.Contains("22021", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Entries, e => e.StartsWith("Error", StringComparison.Ordinal));   // a client's mistake is not our error

        using var system = await client.GetAsync("/system");
        Assert.Equal(HttpStatusCode.InternalServerError, system.StatusCode);
        Assert.Equal(Problems.Internal, JsonDocument.Parse(await system.Content.ReadAsStringAsync()).RootElement.GetProperty("type").GetString());
        Assert.Contains(log.Entries, e => e.StartsWith("Error Frontdesk: Unhandled PostgresException", StringComparison.Ordinal));
    }
}
