using System.Text;

namespace Frontdesk.Bench.Validate;

/// <summary>
/// <c>validate --target URL --jwt-secret S [--jwt-issuer ISS] [--twilio-fake] [--database-url URL] [--out DIR]</c>, or
/// <c>validate --local</c>: the seed's Phase 3 system test with real numbers, against any deployment.
/// </summary>
public sealed class ValidateCommand : IBenchCommand
{
    public string Name => "validate";
    public string Summary => "the seed's five-task Phase 3 report against --target URL (or --local); exit 0 only if every line passes";

    public async Task<int> RunAsync(string[] args) => await RunAsync(args, Console.Out, Console.Error);

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter progress)
    {
        string? Opt(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        var local = args.Contains("--local");
        var outDir = Opt("--out") ?? "validation-report";
        var target = Opt("--target");
        var secret = Opt("--jwt-secret") ?? Environment.GetEnvironmentVariable("FRONTDESK_JWT_SECRET");
        if (!local && (target is null || secret is null))
        {
            progress.WriteLine("usage: validate --target URL --jwt-secret SECRET [--jwt-issuer ISS] [--twilio-fake [--twilio-fake-port N]] [--database-url URL] [--out DIR]\n       validate --local [--out DIR]");
            return 2;
        }

        FakeTwilio? twilio = null;
        FakeLlm? llm = null;
        BenchHost? host = null;
        try
        {
            if (local || args.Contains("--twilio-fake"))
            {
                twilio = new FakeTwilio();
                await twilio.UpAsync(int.TryParse(Opt("--twilio-fake-port"), out var port) ? port : 0);
                if (!local) progress.WriteLine($"fake Twilio listening on {twilio.Url}: the target must use TWILIO_API_BASE_URL={twilio.Url}, TWILIO_ACCOUNT_SID={FakeTwilio.AccountSid}, TWILIO_AUTH_TOKEN={FakeTwilio.AuthToken}");
            }
            if (local)
            {
                llm = await FakeLlm.StartAsync();
                host = await BenchHost.StartAsync(new Dictionary<string, string?>
                {
                    ["TWILIO_ACCOUNT_SID"] = FakeTwilio.AccountSid,
                    ["TWILIO_AUTH_TOKEN"] = FakeTwilio.AuthToken,
                    ["TWILIO_FROM"] = "+14155550100",
                    ["TWILIO_API_BASE_URL"] = twilio!.Url,
                    ["FRONTDESK_LLM_BASE_URL"] = llm.Url + "/v1",
                    ["FRONTDESK_LLM_API_KEY"] = "fake-key",
                    ["FRONTDESK_LLM_MODEL"] = "fake-model",
                    ["FRONTDESK_PUBLIC_BASE_URL"] = "https://frontdesk.validate.local",
                });
                target = host.BaseUrl;
                secret = BenchHost.JwtSecret;
            }

            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = new Uri(target!), Timeout = TimeSpan.FromSeconds(60) };
            var report = new ValidationReport { Target = local ? "local (embedded PostgreSQL, loopback Twilio and LLM)" : target! };
            var run = new ValidationRun(new Api(http, Encoding.UTF8.GetBytes(secret!), Opt("--jwt-issuer") ?? Environment.GetEnvironmentVariable("FRONTDESK_JWT_ISSUER")), report, progress)
            {
                DatabaseUrl = host?.AdminConnectionString ?? Opt("--database-url"),
                Twilio = twilio,
                Llm = llm,
            };
            await RunTasksAsync(run);

            Directory.CreateDirectory(outDir);
            var md = report.ToMarkdown();
            await File.WriteAllTextAsync(Path.Combine(outDir, "report.md"), md);
            await File.WriteAllTextAsync(Path.Combine(outDir, "report.json"), report.ToJson());
            report.WritePlot(Path.Combine(outDir, "latency.png"));
            output.WriteLine(md);
            progress.WriteLine($"report written to {Path.GetFullPath(outDir)} (report.md, report.json, latency.png)");
            return report.Pass ? 0 : 1;
        }
        finally
        {
            if (host is not null) await host.DisposeAsync();
            if (llm is not null) await llm.DisposeAsync();
            if (twilio is not null) await twilio.DisposeAsync();
        }
    }

    /// <summary>The five tasks and the integration checks; a task that throws is reported red and
    /// the rest still run. Cleanup always runs and touches only clinics this run created.</summary>
    public static async Task RunTasksAsync(ValidationRun run)
    {
        var tasks = new (string Key, string Title, Func<ValidationRun, Task> Run)[]
        {
            ("task1", "Task 1: Atomic Slot Locking", Task1Claims.RunAsync),
            ("task2", "Task 2: Contextual Memory Hand-off", Task2FollowUp.RunAsync),
            ("task3", "Task 3: Security & Compliance Redline Test", Task3Privacy.RunAsync),
            ("task4", "Task 4: Latency & Response Benchmarking", Task4Latency.RunAsync),
            ("task5", "Task 5: Multi-Tenant Silo Validation", Task5Isolation.RunAsync),
            (VoiceChanges.Key, VoiceChanges.Title, VoiceChanges.RunAsync),
            ("reception", "Reception: handoff, callbacks, caller variables, knowledge gaps", ReceptionChecks.RunAsync),
            ("integration", "Integration: consistent state, no orphans", Integration.RunAsync),
        };
        try
        {
            foreach (var (key, title, runTask) in tasks)
            {
                try
                {
                    await runTask(run);
                }
                catch (Exception e) when (e is HttpRequestException or InvalidOperationException or System.Text.Json.JsonException
                                              or KeyNotFoundException or TaskCanceledException or FormatException or Npgsql.NpgsqlException)
                {
                    var section = run.Report.Sections.FirstOrDefault(s => s.Key == key);
                    if (section is null) run.Report.Sections.Add(section = new Section(key, title));
                    section.Check("Task ran to completion", false, $"{e.GetType().Name}: {e.Message}");
                    run.Progress($"  ✗ {title}: {e.Message}");
                }
            }
        }
        finally
        {
            run.Progress("▶ Cleanup …");
            await run.CleanupAsync();
        }
    }
}
