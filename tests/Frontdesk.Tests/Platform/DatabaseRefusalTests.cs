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

    /// <summary>A minimal host with the real problem mapping whose one route runs <paramref name="sql"/> in a
    /// clinic's tenant session against the test database.</summary>
    static async Task<(HttpStatusCode Status, JsonElement Problem, string Body)> TenantStatementAsync(string sql)
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddProblemDetails();
        await using var app = builder.Build();
        app.UseProblemExceptions();
        app.MapGet("/tenant", async () => await TestApp.Db.QueryOnceAsync<long>(
            RequestClaims.ForClinic(clinic.Id, "refusal-test", "admin"), sql, new { C = clinic.Id }, default));
        await app.StartAsync();
        using var client = app.GetTestClient();
        using var r = await client.GetAsync("/tenant");
        var body = await r.Content.ReadAsStringAsync();
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        return (r.StatusCode, JsonDocument.Parse(body).RootElement.Clone(), body);
    }

    [Theory]
    [InlineData("select (2147483647::int + 1)::bigint", "A number is out of range.")]                                          // 22003
    [InlineData("select extract(epoch from 'the day after tomorrow'::date)::bigint", "A date or time is not valid.")]          // 22007
    [InlineData("select extract(epoch from '2026-02-30'::date)::bigint", "A date or time is not valid.")]                      // 22008
    [InlineData("select 'twelve'::bigint", "A value is not in the expected format.")]                                          // 22P02
    [InlineData("insert into practitioners (clinic_id, name) values (@C, '') returning 1::bigint",
        "A value is outside what is allowed (too long, empty, or not one of the accepted values).")]                             // 23514
    [InlineData("insert into practitioners (clinic_id, name) values (@C, null) returning 1::bigint", "A required value is missing.")]   // 23502
    [InlineData("insert into calendar_slots (clinic_id, practitioner_id, starts_at, ends_at) values (@C, gen_random_uuid(), now() + interval '400 days', now() + interval '401 days') returning 1::bigint",
        "A value refers to a record that does not exist, or a record is still referred to.")]                                     // 23503 on insert
    public async Task Each_kind_of_value_the_database_refuses_is_a_400_that_says_what_was_wrong_without_the_value_or_the_sql(string sql, string detail)
    {
        var (status, problem, body) = await TenantStatementAsync(sql);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(Problems.Validation, problem.GetProperty("type").GetString());
        Assert.Equal("The request holds a value that cannot be stored", problem.GetProperty("title").GetString());
        Assert.Equal(detail, problem.GetProperty("detail").GetString());
        foreach (var leak in new[] { "twelve", "2026-02-30", "practitioners", "calendar_slots", "insert", "select" })
            Assert.DoesNotContain(leak, body, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_division_by_zero_is_our_bug_a_500_not_the_clients_input()
    {
        var (status, problem, body) = await TenantStatementAsync("select 1 / (select count(*) from practitioners where clinic_id = @C and false)");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal(Problems.Internal, problem.GetProperty("type").GetString());
        Assert.False(problem.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String, body);
    }

    [Fact]
    public async Task A_statement_the_tenant_role_may_not_run_is_a_403_forbidden_problem()
    {
        var (status, problem, body) = await TenantStatementAsync("select count(*) from pg_authid");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        // Was 403 with type 'internal' and "Something went wrong on our side": a refusal is not our failure.
        Assert.Equal(Problems.Forbidden, problem.GetProperty("type").GetString());
        Assert.Equal("The database does not permit this for your clinic and role", problem.GetProperty("title").GetString());
        Assert.DoesNotContain("pg_authid", body, StringComparison.Ordinal);
    }
}
