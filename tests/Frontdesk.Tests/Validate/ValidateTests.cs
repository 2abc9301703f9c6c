using System.Text.Json;
using Frontdesk.Bench.Validate;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Tests.Validate;

/// <summary>`bench validate` (issue 9): the seed's report against a real local deployment, and a
/// broken target that must turn red.</summary>
public class ValidateTests
{
    [Fact]
    public async Task Validate_local_reports_all_five_tasks_with_every_functional_line_passing()
    {
        var outDir = Path.Combine(Path.GetTempPath(), $"frontdesk-validate-{Guid.NewGuid():N}");
        using var cleanup = new DeleteOnDispose(outDir);
        var output = new StringWriter();
        var exit = await ValidateCommand.RunAsync(["--local", "--out", outDir], output, new StringWriter());

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, "report.json")));
        var sections = json.RootElement.GetProperty("sections").EnumerateArray().ToList();
        Assert.Equal(["task1", "task2", "task3", "task4", "task5", "voice", "reception", "integration"], sections.Select(s => s.GetProperty("key").GetString()));
        foreach (var section in sections)
        {
            var checks = section.GetProperty("checks").EnumerateArray().ToList();
            Assert.NotEmpty(checks);
            // Functional lines must pass; the seed's speed lines are measured and reported (their
            // pass/fail depends on the machine, so they are not asserted here).
            foreach (var c in checks.Where(c => !c.GetProperty("timing").GetBoolean()))
                Assert.True(c.GetProperty("pass").GetBoolean(), $"{section.GetProperty("key")}: {c.GetProperty("text")} — {c.GetProperty("measured")}");
            Assert.All(checks, c => Assert.False(string.IsNullOrWhiteSpace(c.GetProperty("measured").GetString())));
        }
        var md = await File.ReadAllTextAsync(Path.Combine(outDir, "report.md"));
        // Any of the five may win the race; exactly one line says so.
        Assert.Equal(1, System.Text.RegularExpressions.Regex.Count(md, @"Request [1-5]: ✅ 200 OK \(winner\)"));
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Count(md, @"Request [1-5]: ❌ 409 Conflict"));
        Assert.Contains("Database state: 1 booking, no duplicates", md, StringComparison.Ordinal);
        Assert.Contains("Agent assignment: sarah_outbound", md, StringComparison.Ordinal);
        Assert.Contains("public_log = \"Patient mentioned health concern and location preference\"", md, StringComparison.Ordinal);
        Assert.Contains("TTFB Distribution", md, StringComparison.Ordinal);
        var png = await File.ReadAllBytesAsync(Path.Combine(outDir, "latency.png"));
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, png[..4]);
        Assert.Equal(json.RootElement.GetProperty("pass").GetBoolean() ? 0 : 1, exit);
        Assert.Equal(md.Trim(), output.ToString().Trim());
    }

    [Fact]
    public async Task A_target_that_accepts_every_claim_turns_task_1_red_and_the_exit_code_non_zero()
    {
        // A broken "deployment": every request succeeds, every claim wins.
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using var fake = builder.Build();
        fake.Run(async http =>
        {
            http.Response.StatusCode = http.Request.Method == "POST" && http.Request.Path.StartsWithSegments("/api") ? 201 : 200;
            await http.Response.WriteAsJsonAsync(new
            {
                id = Guid.NewGuid(), bookingId = Guid.NewGuid(), status = 200, success = true,
                slots = Enumerable.Range(0, 300).Select(_ => new { id = Guid.NewGuid() }),
                bookings = Array.Empty<object>(), entities = Array.Empty<object>(),
            });
        });
        await fake.StartAsync();

        var outDir = Path.Combine(Path.GetTempPath(), $"frontdesk-validate-broken-{Guid.NewGuid():N}");
        using var cleanup = new DeleteOnDispose(outDir);
        var exit = await ValidateCommand.RunAsync(["--target", fake.Urls.First(), "--jwt-secret", "whatever-secret-whatever-secret-whatever", "--out", outDir],
            new StringWriter(), new StringWriter());

        Assert.NotEqual(0, exit);
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, "report.json")));
        var task1 = json.RootElement.GetProperty("sections").EnumerateArray().Single(s => s.GetProperty("key").GetString() == "task1");
        Assert.False(task1.GetProperty("pass").GetBoolean());
        var race = task1.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("text").GetString() == "5 concurrent calls, 1 success, 4 conflicts");
        Assert.False(race.GetProperty("pass").GetBoolean());
        Assert.Contains("5 × 200", race.GetProperty("measured").GetString(), StringComparison.Ordinal);
        Assert.False(json.RootElement.GetProperty("pass").GetBoolean());
    }

    sealed class DeleteOnDispose(string dir) : IDisposable
    {
        public void Dispose()
        {
            try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
            catch (IOException) { }
        }
    }
}
