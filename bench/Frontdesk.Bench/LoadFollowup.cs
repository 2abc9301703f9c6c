using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace Frontdesk.Bench;

/// <summary>
/// bench load followup: end-of-call reports one at a time (the service time) and at 50 concurrent
/// → time until a loopback Twilio receives each SMS; then tool calls (check_availability) at 1, 20
/// (issue 16's goal: server time p99 ≤ 25 ms) and 100 concurrent → response and server time.
/// Starts its own private cluster, the app (BenchHost: the real service on Kestrel) and the shared fake Twilio.
/// Args: [reports=500] [toolCalls=3000].
/// </summary>
public sealed class LoadFollowup : IBenchCommand
{
    public string Name => "load followup";
    public string Summary => "end-of-call report → SMS at the fake Twilio (50 concurrent); tool-call latency (100 concurrent)";

    public async Task<int> RunAsync(string[] args)
    {
        var reports = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 500;
        var toolCalls = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3000;

        var arrivals = new ConcurrentDictionary<string, long>();
        await using var twilio = await FakeTwilio.StartAsync();
        twilio.OnAccepted = m => arrivals.TryAdd(m.To, m.ReceivedTimestamp);
        await using var host = await BenchHost.StartAsync(new Dictionary<string, string?>
        {
            ["FRONTDESK_PUBLIC_BASE_URL"] = "https://frontdesk.bench",
            ["TWILIO_API_BASE_URL"] = twilio.Url,
            ["TWILIO_ACCOUNT_SID"] = FakeTwilio.AccountSid,
            ["TWILIO_AUTH_TOKEN"] = FakeTwilio.AuthToken,
            ["TWILIO_FROM"] = FakeTwilio.From,
        });
        Console.WriteLine($"app {host.BaseUrl}, fake Twilio {twilio.Url}");

        var (_, secret) = await SeedClinicAsync(host.AdminConnectionString);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = new Uri(host.BaseUrl) };
        http.DefaultRequestHeaders.Add("X-Vapi-Secret", secret);

        Console.WriteLine($"load average at start: {LoadTenantRead.LoadAverage()}");
        await FollowUpsAsync(http, arrivals, Math.Min(50, reports), concurrency: 1, offset: 100_000);   // the service time, without queueing
        await FollowUpsAsync(http, arrivals, reports, concurrency: 50);
        await ToolCallsAsync(http, toolCalls, [1, 20, 100]);
        Console.WriteLine($"load average at end: {LoadTenantRead.LoadAverage()}");
        return 0;
    }

    static async Task FollowUpsAsync(HttpClient http, ConcurrentDictionary<string, long> arrivals, int n, int concurrency, int offset = 1000)
    {
        // Warm-up: JIT, pools, plans.
        if (offset == 1000) await RunReportsAsync(http, arrivals, 0, 50, 50, "warm");
        var sent = new ConcurrentDictionary<string, long>();
        var webhook = new ConcurrentBag<double>();
        var wall = Stopwatch.StartNew();
        await RunReportsAsync(http, arrivals, offset, n, concurrency, "run", sent, webhook);
        var until = DateTime.UtcNow.AddSeconds(60);
        while (sent.Keys.Count(arrivals.ContainsKey) < n && DateTime.UtcNow < until) await Task.Delay(10);
        wall.Stop();
        var latencies = sent.Where(kv => arrivals.ContainsKey(kv.Key))
            .Select(kv => Stopwatch.GetElapsedTime(kv.Value, arrivals[kv.Key]).TotalMilliseconds).ToList();
        Console.WriteLine($"\nend-of-call report → SMS received by fake Twilio: {latencies.Count}/{n} delivered, {concurrency} concurrent, {wall.Elapsed.TotalSeconds:F1} s");
        Print("report → SMS at Twilio", latencies);
        Print("webhook response", webhook.ToList());
    }

    static async Task RunReportsAsync(HttpClient http, ConcurrentDictionary<string, long> arrivals, int offset, int n, int concurrency, string tag,
        ConcurrentDictionary<string, long>? sent = null, ConcurrentBag<double>? webhook = null)
    {
        await Parallel.ForEachAsync(Enumerable.Range(offset, n), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, ct) =>
        {
            var phone = "+44790" + (1_000_000 + i + (tag == "warm" ? 5_000_000 : 0)).ToString(CultureInfo.InvariantCulture);
            var body = JsonSerializer.Serialize(new
            {
                message = new
                {
                    type = "end-of-call-report",
                    timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                    endedReason = "customer-ended-call",
                    analysis = new { },
                    artifact = new { transcript = "User: I'm interested in a rhinoplasty. Sorry, I have to go.", messages = Array.Empty<object>(),
                        performanceMetrics = new { turnLatencies = new[] { new { turnLatency = 700 } } } },
                    call = new { id = $"{tag}-{i}-{Guid.NewGuid():N}", status = "queued", cost = 0 },
                    customer = new { number = phone },
                },
            });
            var start = Stopwatch.GetTimestamp();
            sent?.TryAdd(phone, start);
            using var r = await http.PostAsync("/vapi/webhook", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), ct);
            webhook?.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            r.EnsureSuccessStatusCode();
        });
        if (sent is null)
        {
            var until = DateTime.UtcNow.AddSeconds(30);
            while (arrivals.Count < n && DateTime.UtcNow < until) await Task.Delay(10);
        }
    }

    static async Task ToolCallsAsync(HttpClient http, int n, int[] concurrencies)
    {
        await RunToolCallsAsync(http, 200, 100, null, null);
        foreach (var c in concurrencies)
        {
            var count = c == 1 ? Math.Min(n, 500) : n;
            var times = new ConcurrentBag<double>();
            var server = new ConcurrentBag<double>();
            var wall = Stopwatch.StartNew();
            await RunToolCallsAsync(http, count, c, times, server);
            wall.Stop();
            Console.WriteLine($"\ntool-calls check_availability: {count} calls, {c} concurrent, {count / wall.Elapsed.TotalSeconds:F0} calls/s");
            Print("tool-call response (client, loopback)", times.ToList());
            Print("tool-call server time (Server-Timing)", server.ToList());
        }
    }

    static async Task RunToolCallsAsync(HttpClient http, int count, int concurrency, ConcurrentBag<double>? times, ConcurrentBag<double>? server) =>
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, ct) =>
            {
                var body = JsonSerializer.Serialize(new
                {
                    message = new
                    {
                        type = "tool-calls",
                        timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                        toolCallList = new[] { new { id = "tc_" + Guid.NewGuid().ToString("N"), type = "function",
                            function = new { name = "check_availability", arguments = new { partOfDay = i % 2 == 0 ? "morning" : "afternoon" } } } },
                        call = new { id = "tools-" + Guid.NewGuid().ToString("N") },
                        customer = new { number = "+447900999999" },
                    },
                });
                var start = Stopwatch.GetTimestamp();
                using var r = await http.PostAsync("/vapi/webhook", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), ct);
                var text = await r.Content.ReadAsStringAsync(ct);
                times?.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                if (r.Headers.TryGetValues("Server-Timing", out var st))
                    server?.Add(double.Parse(st.First()["app;dur=".Length..], CultureInfo.InvariantCulture));
                if (!r.IsSuccessStatusCode || !text.Contains("Free times", StringComparison.Ordinal))
                    throw new InvalidOperationException($"tool call failed: {(int)r.StatusCode}");
            });

    static void Print(string what, List<double> ms)
    {
        if (ms.Count == 0) { Console.WriteLine($"  {what}: no samples"); return; }
        ms.Sort();
        double P(double p) => ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(p * ms.Count) - 1)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {what,-38} n={ms.Count,5}  p50={P(0.50),7:F1} ms  p95={P(0.95),7:F1} ms  p99={P(0.99),7:F1} ms  max={ms[^1],7:F1} ms"));
    }

    static async Task<(Guid, string)> SeedClinicAsync(string admin)
    {
        await using var conn = new NpgsqlConnection(admin);
        await conn.OpenAsync();
        var secret = "bench-vapi-" + Guid.NewGuid().ToString("N");
        await using var cmd = new NpgsqlCommand("""
            -- The bench sends more than a clinic's default 500 SMS a day (issue 14's quota): raise it.
            with c as (insert into clinics (name, timezone, vapi_secret, sms_daily_quota) values ('Bench Clinic', 'Europe/London', $1, 100000) returning id),
                 p as (insert into practitioners (clinic_id, name) select id, 'Dr Bench' from c returning id, clinic_id)
            insert into calendar_slots (clinic_id, practitioner_id, starts_at, ends_at)
            select p.clinic_id, p.id, d + interval '9 hours' + h * interval '30 minutes', d + interval '9 hours' + (h + 1) * interval '30 minutes'
            from p, generate_series(date_trunc('day', now()) + interval '1 day', date_trunc('day', now()) + interval '60 days', interval '1 day') d,
                 generate_series(0, 15) h
            returning clinic_id
            """, conn);
        cmd.Parameters.AddWithValue(secret);
        var id = (Guid)(await cmd.ExecuteScalarAsync())!;
        return (id, secret);
    }
}
