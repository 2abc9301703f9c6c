using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Npgsql;

namespace Frontdesk.Bench;

/// <summary>
/// bench fault-run (issue 15): three Frontdesk processes on one database, a loopback Twilio that fails on
/// purpose (5xx after creating, hangs, 429 with Retry-After, 503, an outage), a few hundred end-of-call
/// reports (some repeated later, some sent to two instances at once), instances SIGKILLed mid-send and
/// restarted, PostgreSQL restarted once, and one clinic inside quiet hours that end during the run.
/// Time is compressed by configuration (retry cap 2 s, lease 8 s, Twilio timeout 1.5 s, reconcile
/// delay 2 s). At the end it counts, per due follow-up, what the fake Twilio received and what the
/// database says: lost 0, duplicated 0, stranded 0 is the pass.
/// Args: [reports=300] [outageSeconds=30]. `fault-run serve` is the child process (one instance).
/// </summary>
public sealed class FaultRun : IBenchCommand
{
    public string Name => "fault-run";
    public string Summary => "3 instances, faulty Twilio, SIGKILLs, a PostgreSQL restart: every due follow-up sent exactly once (issue 15)";

    const string Secret = "fault-vapi-secret-0123456789";

    public async Task<int> RunAsync(string[] args)
    {
        if (args is ["serve", ..]) return await ServeAsync();
        var reports = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 300;
        var outage = TimeSpan.FromSeconds(args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 30);

        await using var twilio = await FakeTwilio.StartAsync();
        twilio.HangFor = TimeSpan.FromSeconds(5);
        twilio.RetryAfterSeconds = 2;
        foreach (var (f, p) in new[] { (TwilioFault.AcceptThen500, 0.05), (TwilioFault.AcceptThenHang, 0.03), (TwilioFault.Hang, 0.03),
                                       (TwilioFault.TooManyRequests, 0.05), (TwilioFault.Unavailable, 0.03) })
            twilio.FaultRates[f] = p;
        await using var cluster = await BenchCluster.StartAsync();
        var (normal, quiet, quietEnd) = await SeedAsync(cluster.AdminConnectionString);
        Console.WriteLine($"fake Twilio {twilio.Url}; quiet clinic's quiet hours end at {quietEnd:HH:mm:ss}Z");

        var instances = Enumerable.Range(0, 3).Select(i => new Instance(i, FreePort(), cluster, twilio)).ToArray();
        try
        {
            foreach (var i in instances) i.Start();
            foreach (var i in instances) await i.WaitHealthyAsync(TimeSpan.FromSeconds(60));
            Console.WriteLine("3 instances up: " + string.Join(", ", instances.Select(i => i.Url)));

            var clock = Stopwatch.StartNew();
            var events = new ConcurrentQueue<string>();
            void Note(string e) { events.Enqueue($"{clock.Elapsed.TotalSeconds,6:F1}s {e}"); Console.WriteLine($"  {clock.Elapsed.TotalSeconds,6:F1}s {e}"); }
            var calls = new ConcurrentDictionary<string, (string Phone, bool Quiet)>();
            var driver = DriveAsync(instances, reports, normal, quiet, calls, Note);
            var chaos = ChaosAsync(instances, cluster, twilio, outage, Note);
            await Task.WhenAll(driver, chaos);
            Note($"all {reports} reports delivered to Frontdesk; waiting for the outbox to settle");

            // A report whose instance died (or whose transaction hit the PostgreSQL restart) after claiming
            // it is answered "in progress" until the 60 s claim lease ends: replay those once it has, as
            // Vapi's missed-call reconciliation does (webhooks' part of issue 15).
            var noLead = await CallsWithoutLeadAsync(cluster.AdminConnectionString, calls.Keys);
            if (noLead.Count > 0)
            {
                Note($"{noLead.Count} reports have no lead (claimed by an instance that died): replaying them after the claim lease");
                await Task.Delay(TimeSpan.FromSeconds(62));
                await ReplayAsync(instances, noLead.Select(c => (c, calls[c].Phone, calls[c].Quiet)));
            }
            var (stuck, settledAt) = await SettleAsync(cluster.AdminConnectionString, quietEnd, TimeSpan.FromMinutes(6));
            Note(stuck == 0 ? "settled" : $"{stuck} messages still open after the wait");
            Console.WriteLine($"replayed after the claim lease: {noLead.Count}");
            return await ReportAsync(cluster.AdminConnectionString, twilio, calls, quietEnd, clock.Elapsed);
        }
        finally
        {
            foreach (var i in instances) i.Kill();
        }
    }

    static async Task<int> ServeAsync()
    {
        var app = FrontdeskApp.Build(["--environment", "Production"]);
        await app.RunAsync();
        return 0;
    }

    sealed class Instance(int n, int port, BenchCluster cluster, FakeTwilio twilio)
    {
        Process? _process;
        public int N => n;
        public string Url => $"http://127.0.0.1:{port}";
        public bool Up => _process is { HasExited: false };

        public void Start()
        {
            var bench = typeof(FaultRun).Assembly.Location;
            var psi = new ProcessStartInfo(Environment.ProcessPath!, [bench, "fault-run", "serve"])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            var env = new Dictionary<string, string>
            {
                ["ASPNETCORE_URLS"] = Url,
                ["FRONTDESK_DATABASE_URL"] = cluster.AdminConnectionString,
                ["FRONTDESK_APP_DATABASE_URL"] = cluster.AppConnectionString,
                ["FRONTDESK_MIGRATE_ON_START"] = "false",
                ["FRONTDESK_JWT_SECRET"] = BenchHost.JwtSecret,
                ["FRONTDESK_DATA_DIR"] = Path.Combine(cluster.Dir, "data"),
                ["FRONTDESK_MASTER_KEY"] = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)(i * 13 + 5)).ToArray()),
                ["FRONTDESK_PUBLIC_BASE_URL"] = "https://frontdesk.fault",
                ["TWILIO_API_BASE_URL"] = twilio.Url,
                ["TWILIO_ACCOUNT_SID"] = FakeTwilio.AccountSid,
                ["TWILIO_AUTH_TOKEN"] = FakeTwilio.AuthToken,
                ["TWILIO_FROM"] = FakeTwilio.From,
                // Time compressed: hours of production backoff become seconds.
                ["FRONTDESK_OUTBOX_RETRY_BASE_SECONDS"] = "0.2",
                ["FRONTDESK_OUTBOX_RETRY_MAX_SECONDS"] = "2",
                ["FRONTDESK_OUTBOX_LEASE_SECONDS"] = "8",
                ["FRONTDESK_OUTBOX_POLL_SECONDS"] = "0.5",
                ["FRONTDESK_TWILIO_TIMEOUT_SECONDS"] = "1.5",
                ["FRONTDESK_SMS_RECONCILE_DELAY_SECONDS"] = "2",
                ["Logging__LogLevel__Default"] = "Warning",
            };
            foreach (var (k, v) in env) psi.Environment[k] = v;
            _process = Process.Start(psi)!;
            var log = Path.Combine(cluster.Dir, $"instance-{n}.log");
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) File.AppendAllText(log, e.Data + "\n"); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) File.AppendAllText(log, e.Data + "\n"); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public async Task WaitHealthyAsync(TimeSpan timeout)
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var until = DateTime.UtcNow + timeout;
            while (DateTime.UtcNow < until)
            {
                try { if ((await http.GetAsync(Url + "/healthz")).IsSuccessStatusCode) return; }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
                await Task.Delay(200);
            }
            var log = Path.Combine(cluster.Dir, $"instance-{n}.log");
            var tail = File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(20)) : "(no output)";
            throw new TimeoutException($"instance {n} did not become healthy:\n{tail}");
        }

        /// <summary>SIGKILL: no shutdown grace, sends in flight are cut.</summary>
        public void Kill()
        {
            if (_process is { HasExited: false } p) p.Kill();
            _process?.WaitForExit(5000);
        }
    }

    static int FreePort()
    {
        using var l = new TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    static async Task<(Guid Normal, Guid Quiet, DateTimeOffset QuietEnd)> SeedAsync(string admin)
    {
        await using var conn = new NpgsqlConnection(admin);
        await conn.OpenAsync();
        // Quiet hours that began an hour ago and end two minutes from now (clinic time, UTC zone), so
        // the quiet clinic's follow-ups must all wait and then all go.
        var now = DateTimeOffset.UtcNow;
        var end = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero).AddMinutes(3);
        async Task<Guid> Clinic(string name, string? qs, string? qe)
        {
            await using var cmd = new NpgsqlCommand(
                "insert into clinics (name, timezone, vapi_secret, quiet_start, quiet_end) values ($1, 'UTC', $2, $3::time, $4::time) returning id", conn);
            cmd.Parameters.AddWithValue(name);
            cmd.Parameters.AddWithValue(name == "Quiet Clinic" ? Secret + "-q" : Secret);
            cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)qs ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)qe ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            return (Guid)(await cmd.ExecuteScalarAsync())!;
        }
        var normal = await Clinic("Fault Clinic", null, null);
        var quiet = await Clinic("Quiet Clinic", end.AddHours(-1).ToString("HH:mm", CultureInfo.InvariantCulture), end.ToString("HH:mm", CultureInfo.InvariantCulture));
        return (normal, quiet, end);
    }

    /// <summary>Reports at ~5/s to random live instances; a failed delivery is sent again to another
    /// instance (as a retrying sender would). 10 % are repeated later, 10 % go to two instances at once.</summary>
    static async Task DriveAsync(Instance[] instances, int reports, Guid normal, Guid quiet,
        ConcurrentDictionary<string, (string, bool)> calls, Action<string> note)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var repeats = new ConcurrentBag<(string Call, string Phone, bool Quiet)>();
        var failures = 0;
        async Task SendAsync(string call, string phone, bool isQuiet, Instance? first = null)
        {
            var body = Report(call, phone);
            for (var attempt = 0; attempt < 60; attempt++)
            {
                var live = instances.Where(i => i.Up).ToArray();
                var target = attempt == 0 && first is { Up: true } ? first : live.Length > 0 ? live[Random.Shared.Next(live.Length)] : instances[0];
                try
                {
                    using var req = new HttpRequestMessage(HttpMethod.Post, target.Url + "/vapi/webhook")
                    {
                        Content = new StringContent(body, Encoding.UTF8, "application/json"),
                    };
                    req.Headers.Add("X-Vapi-Secret", isQuiet ? Secret + "-q" : Secret);
                    using var r = await http.SendAsync(req);
                    if (r.IsSuccessStatusCode) return;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
                Interlocked.Increment(ref failures);
                await Task.Delay(500);
            }
            note($"report {call} never accepted");
        }

        var tasks = new List<Task>();
        for (var i = 0; i < reports; i++)
        {
            var isQuiet = i % 5 == 4;   // a fifth go to the clinic in quiet hours
            var call = $"call-{i}-{Guid.NewGuid():N}";
            var phone = "+44790" + (1_000_000 + i).ToString(CultureInfo.InvariantCulture);
            calls[call] = (phone, isQuiet);
            if (i % 10 == 3)
            {
                // The same report to two instances at once.
                var two = instances.Where(x => x.Up).OrderBy(_ => Random.Shared.Next()).Take(2).ToArray();
                tasks.Add(Task.WhenAll(two.Select(t => SendAsync(call, phone, isQuiet, t))));
            }
            else tasks.Add(SendAsync(call, phone, isQuiet));
            if (i % 10 == 7) repeats.Add((call, phone, isQuiet));
            await Task.Delay(200);
        }
        await Task.WhenAll(tasks);
        // Late repeats of delivered reports (Vapi or a person replaying them).
        await Task.WhenAll(repeats.Select(r => SendAsync(r.Call, r.Phone, r.Quiet)));
        note($"driver: {reports} reports + {repeats.Count} repeats, {failures} deliveries retried on another instance");
    }

    static async Task<List<string>> CallsWithoutLeadAsync(string admin, IEnumerable<string> calls)
    {
        await using var conn = new NpgsqlConnection(admin);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("select c from unnest($1::text[]) c where not exists (select 1 from leads l where l.call_id = c)", conn);
        cmd.Parameters.AddWithValue(calls.ToArray());
        var list = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) list.Add(reader.GetString(0));
        return list;
    }

    static async Task ReplayAsync(Instance[] instances, IEnumerable<(string Call, string Phone, bool Quiet)> calls)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        foreach (var (call, phone, quiet) in calls)
        {
            var target = instances.First(i => i.Up);
            using var req = new HttpRequestMessage(HttpMethod.Post, target.Url + "/vapi/webhook") { Content = new StringContent(Report(call, phone), Encoding.UTF8, "application/json") };
            req.Headers.Add("X-Vapi-Secret", quiet ? Secret + "-q" : Secret);
            using var r = await http.SendAsync(req);
        }
    }

    static string Report(string call, string phone) => JsonSerializer.Serialize(new
    {
        message = new
        {
            type = "end-of-call-report", timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), endedReason = "customer-ended-call",
            analysis = new { }, artifact = new { transcript = "User: I'm interested in a rhinoplasty. Sorry, I have to go." },
            call = new { id = call }, customer = new { number = phone },
        },
    });

    static async Task ChaosAsync(Instance[] instances, BenchCluster cluster, FakeTwilio twilio, TimeSpan outage, Action<string> note)
    {
        async Task KillAndRestart(Instance i)
        {
            i.Kill();
            note($"SIGKILL instance {i.N}");
            await Task.Delay(3000);
            i.Start();
            await i.WaitHealthyAsync(TimeSpan.FromSeconds(60));
            note($"instance {i.N} restarted");
        }
        await Task.Delay(8000);
        await KillAndRestart(instances[0]);
        await twilio.DownAsync();
        note($"Twilio outage begins ({outage.TotalSeconds:F0} s)");
        var up = Task.Delay(outage).ContinueWith(async _ => { await twilio.UpAsync(); note("Twilio is back"); }, TaskScheduler.Default).Unwrap();
        await Task.Delay(5000);
        await KillAndRestart(instances[1]);
        await up;
        await Task.Delay(4000);
        await cluster.RestartAsync();
        note("PostgreSQL restarted");
        await Task.Delay(5000);
        await KillAndRestart(instances[2]);
        await Task.Delay(3000);
        await KillAndRestart(instances[0]);
    }

    /// <summary>Waits until no message is open (queued, sending, unknown) — after the quiet hours end.</summary>
    static async Task<(long Open, DateTimeOffset At)> SettleAsync(string admin, DateTimeOffset quietEnd, TimeSpan max)
    {
        var until = DateTimeOffset.UtcNow + max;
        long open;
        do
        {
            await Task.Delay(2000);
            open = await ScalarAsync(admin, "select count(*) from sms_messages where status in ('queued', 'sending', 'unknown') and twilio_sid is null");
        } while ((open > 0 || DateTimeOffset.UtcNow < quietEnd) && DateTimeOffset.UtcNow < until);
        return (open, DateTimeOffset.UtcNow);
    }

    static async Task<long> ScalarAsync(string admin, string sql)
    {
        await using var conn = new NpgsqlConnection(admin);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    sealed record Row(string CallId, string? Status, string? Sid, string? FollowUp);

    static async Task<int> ReportAsync(string admin, FakeTwilio twilio, ConcurrentDictionary<string, (string Phone, bool Quiet)> calls,
        DateTimeOffset quietEnd, TimeSpan elapsed)
    {
        var rows = new Dictionary<string, Row>();
        await using (var conn = new NpgsqlConnection(admin))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("""
                select l.call_id, m.status, m.twilio_sid, f.status
                from leads l left join lead_followups f on f.clinic_id = l.clinic_id and f.lead_id = l.id
                left join sms_messages m on m.clinic_id = f.clinic_id and m.followup_id = f.id
                """, conn);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                rows[reader.GetString(0)] = new Row(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                    reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3));
        }
        var byPhone = twilio.Accepted.GroupBy(m => m.To).ToDictionary(g => g.Key, g => g.ToList());
        int sentOnce = 0, duplicated = 0, lost = 0, stranded = 0, visibleFailed = 0, review = 0, quietViolations = 0, sidMismatch = 0, noLead = 0;
        foreach (var (call, (phone, isQuiet)) in calls)
        {
            var at = byPhone.TryGetValue(phone, out var list) ? list : [];
            if (at.Count > 1) duplicated++;
            if (isQuiet && at.Any(m => m.At < quietEnd)) quietViolations++;
            rows.TryGetValue(call, out var row);
            if (row is null) noLead++;
            var open = row?.Status is null or "queued" or "sending" or "unknown" && row?.Sid is null;
            if (at.Count == 1)
            {
                sentOnce++;
                if (row?.Sid is { } sid && sid != at[0].Sid) sidMismatch++;
                if (row?.Sid is null && row?.Status is not ("review" or "sent")) stranded++;   // sent, but the database does not know
            }
            else if (at.Count == 0)
            {
                if (row?.Status is "failed" or "undelivered") visibleFailed++;
                else if (row?.Status == "review") review++;
                else if (open) { if (row is null) lost++; else stranded++; }
                else lost++;
            }
        }
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fault-run: {calls.Count} due follow-ups (distinct calls) over {elapsed.TotalSeconds:F0} s, 3 instances"));
        Console.WriteLine($"  sent exactly once (count at the fake Twilio): {sentOnce}");
        Console.WriteLine($"  failed, visible (sms + follow-up 'failed'):   {visibleFailed}");
        Console.WriteLine($"  held for review:                              {review}");
        Console.WriteLine($"  fake Twilio: {twilio.Accepted.Count} messages created, {twilio.Lists} list lookups; sid mismatches {sidMismatch}");
        Console.WriteLine($"  quiet-hours violations:                       {quietViolations}");
        Console.WriteLine($"  reports with no lead at the end:              {noLead}");
        Console.WriteLine($"lost {lost}, duplicated {duplicated}, stranded {stranded}");
        return lost == 0 && duplicated == 0 && stranded == 0 && quietViolations == 0 && sidMismatch == 0 ? 0 : 1;
    }
}
