using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tenancy;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Frontdesk.Tests.Infrastructure;

/// <summary>The server under test, on the test cluster, with real JWTs. Shared by all tests: each
/// test makes its own clinics, so none depends on another's rows.</summary>
public sealed class FrontdeskFactory : WebApplicationFactory<Program>
{
    public const string JwtSecret = "test-secret-for-frontdesk-hs256-0123456789abcdef";

    /// <summary>The master key of every test instance that shares the test database (base64, 32 bytes).</summary>
    public static readonly string MasterKey = Convert.ToBase64String(new byte[32].Select((_, i) => (byte)(i * 7 + 1)).ToArray());
    public static readonly byte[] SecretBytes = Auth.SecretBytes(JwtSecret);

    readonly Func<TestDatabase> _database;

    /// <summary>On the bare private cluster.</summary>
    public FrontdeskFactory() : this(() => TestCluster.DatabaseAsync().GetAwaiter().GetResult()) { }

    /// <summary>On another test database (the Supabase-shaped cluster).</summary>
    public FrontdeskFactory(Func<TestDatabase> database) => _database = database;

    public string DataDir { get; } = Path.Combine("/tmp", $"frontdesk-test-{Environment.ProcessId}", "data");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        var database = _database();
        builder.UseEnvironment("Testing");
        builder.UseSetting("FRONTDESK_DATABASE_URL", database.AdminConnectionString);
        builder.UseSetting("FRONTDESK_APP_DATABASE_URL", database.AppConnectionString);
        builder.UseSetting("FRONTDESK_MIGRATE_ON_START", "false");
        builder.UseSetting("FRONTDESK_JWT_SECRET", JwtSecret);
        builder.UseSetting("FRONTDESK_DATA_DIR", DataDir);
        builder.UseSetting("FRONTDESK_MASTER_KEY", MasterKey);
        builder.UseSetting("FRONTDESK_PUBLIC_BASE_URL", "https://frontdesk.test");
        // A loaded CI machine can make a clinic's turn (ClinicGate) come late; tests assert outcomes, not speed.
        builder.UseSetting("Database:PerClinicWaitMilliseconds", "60000");
        // Every console test signs in from the same (in-process) address; the limiter has its own test.
        builder.UseSetting("Console:SignInPermitsPerMinute", "10000");
    }
}

/// <summary>Where TestApp's server and database are: the bare private cluster, or the Supabase-shaped one.</summary>
public sealed class TestTarget
{
    public static TestTarget Bare { get; } = new(TestCluster.DatabaseAsync);
    public static TestTarget Supabase { get; } = new(SupabaseCluster.DatabaseAsync);

    readonly Func<Task<TestDatabase>> _database;
    readonly Lazy<FrontdeskFactory> _factory;

    TestTarget(Func<Task<TestDatabase>> database)
    {
        _database = database;
        _factory = new(() =>
        {
            var f = new FrontdeskFactory(() => Database);
            f.CreateClient().Dispose(); // start now, so the first test's timing does not include start-up
            return f;
        });
    }

    public TestDatabase Database => _database().GetAwaiter().GetResult();
    public FrontdeskFactory Factory => _factory.Value;
}

public static class TestApp
{
    /// <summary>
    /// For an instance configured unlike the rest (another master key, a clock under the test's control) on
    /// the shared database: no background workers. Its outbox, reminder or retention worker would otherwise
    /// take other tests' jobs and run them in its world — seal a text under a master key no other instance
    /// holds, or judge a reminder by a clock in 2027 — and those tests would never see them done.
    /// </summary>
    public static void WithoutWorkers(IServiceCollection services)
    {
        foreach (var d in services.Where(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService)
                     && d.ImplementationType?.Name != "DatabaseStarter").ToList())
            services.Remove(d);
    }

    static readonly AsyncLocal<TestTarget?> Current = new();

    /// <summary>The target of the running test: the bare cluster unless the test class chose another.</summary>
    public static TestTarget Target => Current.Value ?? TestTarget.Bare;

    /// <summary>
    /// Runs the current test against <paramref name="target"/>. Called from the constructor of a class
    /// that derives from a test class (e.g. <c>CrossTenantTestsOnSupabase : CrossTenantTests</c>) to run
    /// every inherited test there: xunit constructs the class in the async flow that then runs the test
    /// method, so all TestApp and TestClinic calls of that test, and only of that test, see the target.
    /// </summary>
    public static void UseForThisTest(TestTarget target) => Current.Value = target;

    public static FrontdeskFactory Factory => Target.Factory;

    public static Db Db => Factory.Services.GetRequiredService<Db>();

    public static string Token(RequestClaims claims, TimeSpan? lifetime = null) =>
        Auth.Mint(FrontdeskFactory.SecretBytes, claims, lifetime ?? TimeSpan.FromHours(1));

    public static string ServiceToken() => Token(new RequestClaims(RequestClaims.ServiceRole, null, "test-service", null));

    public static HttpClient Client(string? token)
    {
        var c = Factory.CreateClient();
        if (token is not null) c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return c;
    }

    public static HttpClient Service() => Client(ServiceToken());

    public static HttpClient As(Guid clinicId, string appRole = "admin", string? sub = null) =>
        Client(Token(RequestClaims.ForClinic(clinicId, sub ?? $"user-{appRole}-{Guid.NewGuid():N}", appRole)));

    public static async Task<NpgsqlConnection> AdminConnectionAsync()
    {
        var c = new NpgsqlConnection(Target.Database.AdminConnectionString);
        await c.OpenAsync();
        return c;
    }

    public static async Task<T?> ScalarAsync<T>(string sql, params object[] args)
    {
        await using var c = await AdminConnectionAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        foreach (var a in args) cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        var v = await cmd.ExecuteScalarAsync();
        return v is null or DBNull ? default : (T)v;
    }

    public static async Task<List<T>> ListAsync<T>(string sql, params object[] args)
    {
        await using var c = await AdminConnectionAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        foreach (var a in args) cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        var list = new List<T>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) list.Add(r.GetFieldValue<T>(0));
        return list;
    }

    public static async Task<int> ExecAsync(string sql, params object[] args)
    {
        await using var c = await AdminConnectionAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        foreach (var a in args) cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        return await cmd.ExecuteNonQueryAsync();
    }
}

/// <summary>A clinic made through the API for one test.</summary>
public sealed record TestClinic(Guid Id, Guid PractitionerId, IReadOnlyList<Guid> SlotIds, IReadOnlyList<Guid> PatientIds)
{
    public static async Task<TestClinic> CreateAsync(int slots = 6, int patients = 2, DateTimeOffset? firstSlot = null,
        string timezone = "Europe/London", string? name = null, object? extra = null)
    {
        using var svc = TestApp.Service();
        var clinic = await Json(await svc.PostAsJsonAsync("/api/clinics", new { name = name ?? $"Clinic {Guid.NewGuid():N}", timezone }));
        var id = clinic.GetProperty("id").GetGuid();
        var practitioner = await Json(await svc.PostAsJsonAsync($"/api/clinics/{id}/practitioners", new { name = "Dr Test" }));
        var pid = practitioner.GetProperty("id").GetGuid();
        var start = firstSlot ?? NextWeekday(DateTimeOffset.UtcNow.AddDays(7));
        var slotIds = new List<Guid>();
        if (slots > 0)
        {
            var gen = await Json(await svc.PostAsJsonAsync($"/api/clinics/{id}/slots",
                new { practitionerId = pid, startsAt = start, endsAt = start.AddMinutes(30 * slots), durationMinutes = 30 }));
            slotIds.AddRange(gen.GetProperty("slots").EnumerateArray().Select(s => s.GetProperty("id").GetGuid()));
        }
        var patientIds = new List<Guid>();
        for (var i = 0; i < patients; i++)
        {
            var p = await Json(await svc.PostAsJsonAsync($"/api/clinics/{id}/patients",
                new { name = $"Patient {i}", phone = $"+1202555{Random.Shared.Next(1000, 9999)}" }));
            patientIds.Add(p.GetProperty("id").GetGuid());
        }
        return new TestClinic(id, pid, slotIds, patientIds);
    }

    static DateTimeOffset NextWeekday(DateTimeOffset d)
    {
        var day = new DateTimeOffset(d.Year, d.Month, d.Day, 9, 0, 0, TimeSpan.Zero);
        while (day.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday) day = day.AddDays(1);
        return day;
    }

    public static async Task<JsonElement> Json(HttpResponseMessage r)
    {
        var text = await r.Content.ReadAsStringAsync();
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"{(int)r.StatusCode} {r.RequestMessage?.Method} {r.RequestMessage?.RequestUri}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
