using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Bench;

/// <summary>A Frontdesk on real Kestrel (127.0.0.1, random port) over its own private cluster, for
/// benchmarks that must measure the whole HTTP path.</summary>
public sealed class BenchHost : IAsyncDisposable
{
    public const string JwtSecret = "bench-secret-for-frontdesk-hs256-0123456789abcdef";
    public static readonly byte[] SecretBytes = Auth.SecretBytes(JwtSecret);

    public required WebApplication App { get; init; }
    public required string BaseUrl { get; init; }
    /// <summary>The private cluster the app runs on (seeding, raw-SQL comparisons).</summary>
    public required BenchCluster Cluster { get; init; }

    public string AdminConnectionString => Cluster.AdminConnectionString;

    public Db Db => App.Services.GetRequiredService<Db>();

    public static async Task<BenchHost> StartAsync(IDictionary<string, string?>? settings = null, Action<WebApplicationBuilder>? configure = null, bool durable = false)
    {
        var cluster = await BenchCluster.StartAsync(durable);
        var app = FrontdeskApp.Build(["--environment", "Production"], b =>
        {
            b.WebHost.UseUrls("http://127.0.0.1:0");
            b.Logging.ClearProviders();
            var all = new Dictionary<string, string?>
            {
                ["FRONTDESK_DATABASE_URL"] = cluster.AdminConnectionString,
                ["FRONTDESK_APP_DATABASE_URL"] = cluster.AppConnectionString,
                ["FRONTDESK_MIGRATE_ON_START"] = "false",
                ["FRONTDESK_JWT_SECRET"] = JwtSecret,
                ["FRONTDESK_DATA_DIR"] = Path.Combine(cluster.Dir, "data"),
                ["FRONTDESK_MASTER_KEY"] = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)(i * 13 + 5)).ToArray()),
            };
            if (settings is not null) foreach (var kv in settings) all[kv.Key] = kv.Value;
            b.Configuration.AddInMemoryCollection(all);
            configure?.Invoke(b);
        });
        await app.StartAsync();
        return new BenchHost { App = app, BaseUrl = app.Urls.First(), Cluster = cluster };
    }

    public static string Token(RequestClaims claims) => Auth.Mint(SecretBytes, claims, TimeSpan.FromHours(2));

    public HttpClient Client(string? token, int maxConnections = 256)
    {
        var handler = new SocketsHttpHandler { MaxConnectionsPerServer = maxConnections, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        var c = new HttpClient(handler) { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null) c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return c;
    }

    /// <summary>A clinic with one practitioner, <paramref name="slots"/> 30-minute slots and patients.</summary>
    public async Task<(Guid Clinic, Guid Practitioner, List<Guid> Slots, List<Guid> Patients)> SeedClinicAsync(int slots, int patients)
    {
        using var svc = Client(Token(new RequestClaims(RequestClaims.ServiceRole, null, "bench", null)));
        var clinic = await Json(await svc.PostAsJsonAsync("/api/clinics", new { name = $"Bench {Guid.NewGuid():N}", timezone = "Europe/London" }));
        var id = clinic.GetProperty("id").GetGuid();
        var practitioner = (await Json(await svc.PostAsJsonAsync($"/api/clinics/{id}/practitioners", new { name = "Dr Bench" }))).GetProperty("id").GetGuid();
        var slotIds = new List<Guid>();
        var start = DateTimeOffset.UtcNow.Date.AddDays(2);
        for (var made = 0; made < slots; made += 2000)
        {
            var n = Math.Min(2000, slots - made);
            var from = new DateTimeOffset(start).AddMinutes(30 * made);
            var gen = await Json(await svc.PostAsJsonAsync($"/api/clinics/{id}/slots",
                new { practitionerId = practitioner, startsAt = from, endsAt = from.AddMinutes(30 * n), durationMinutes = 30 }));
            slotIds.AddRange(gen.GetProperty("slots").EnumerateArray().Select(s => s.GetProperty("id").GetGuid()));
        }
        var patientIds = new List<Guid>();
        for (var i = 0; i < patients; i++)
            patientIds.Add((await Json(await svc.PostAsJsonAsync($"/api/clinics/{id}/patients",
                new { name = $"Bench Patient {i}", phone = $"+1202555{1000 + i % 9000}" }))).GetProperty("id").GetGuid());
        return (id, practitioner, slotIds, patientIds);
    }

    public static async Task<JsonElement> Json(HttpResponseMessage r)
    {
        var text = await r.Content.ReadAsStringAsync();
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"{(int)r.StatusCode} {r.RequestMessage?.RequestUri}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}
/// <summary>Latency samples → percentiles.</summary>
public sealed class Samples
{
    readonly List<double> _ms = [];
    readonly object _gate = new();

    public void Add(double ms) { lock (_gate) _ms.Add(ms); }
    public int Count { get { lock (_gate) return _ms.Count; } }

    public double Percentile(double p)
    {
        lock (_gate) return Validate.Stats.Percentile(_ms, p);
    }

    public IReadOnlyList<double> Values { get { lock (_gate) return _ms.ToList(); } }

    public string Summary() => $"p50 {Percentile(50):F2} ms · p95 {Percentile(95):F2} ms · p99 {Percentile(99):F2} ms (n={Count})";

    /// <summary>Runs <paramref name="op"/> from <paramref name="workers"/> concurrent loops until
    /// <paramref name="duration"/> passes or <paramref name="maxOps"/> ops are done; returns ops/s.</summary>
    public static async Task<(Samples Samples, double PerSecond)> RunAsync(int workers, TimeSpan duration, int maxOps, Func<int, Task> op)
    {
        var samples = new Samples();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            int i;
            while (sw.Elapsed < duration && (i = Interlocked.Increment(ref next)) < maxOps)
            {
                var t = System.Diagnostics.Stopwatch.GetTimestamp();
                await op(i);
                samples.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
        })));
        return (samples, samples.Count / sw.Elapsed.TotalSeconds);
    }
}
