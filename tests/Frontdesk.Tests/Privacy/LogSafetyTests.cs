using System.Collections.Concurrent;
using System.Net.Http.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Tests.Privacy;

/// <summary>No input PII string reaches any log line, at any level, during a redact-and-store call.</summary>
public class LogSafetyTests
{
    sealed class CapturingProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();
        public ILogger CreateLogger(string categoryName) => new L(this, categoryName);
        public void Dispose() { }

        sealed class L(CapturingProvider p, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var text = $"{category} {formatter(state, exception)} {exception}";
                if (state is IEnumerable<KeyValuePair<string, object?>> kvs)
                    text += " " + string.Join(" ", kvs.Select(kv => $"{kv.Key}={kv.Value}"));
                p.Lines.Enqueue(text);
            }
        }
    }

    [Fact]
    public async Task Logs_of_a_redact_and_store_call_hold_none_of_the_inputs_personal_data()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 1);
        var capture = new CapturingProvider();
        await using var factory = TestApp.Factory.WithWebHostBuilder(b => b.ConfigureServices(s =>
            s.AddLogging(l => { l.AddProvider(capture); l.SetMinimumLevel(LogLevel.Trace); })));
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", TestApp.Token(RequestClaims.ForClinic(c.Id, "u", "receptionist")));
        const string transcript = "Hi, this is Margaret Thornbury, my email is margaret.thornbury@example.co.uk and my number is 07700 900461. " +
                                  "I live at 44 Wimpole Street, London W1G 8SB. My NHS number is 943 476 5919 and I'm allergic to penicillin.";
        var r = await client.PostAsJsonAsync("/functions/v1/redact_and_store_pii", new { clinicId = c.Id, patientId = c.PatientIds[0], transcript });
        r.EnsureSuccessStatusCode();

        Assert.NotEmpty(capture.Lines);
        var all = string.Join("\n", capture.Lines);
        foreach (var pii in new[] { "Margaret", "Thornbury", "margaret.thornbury@example.co.uk", "07700 900461", "Wimpole", "W1G 8SB", "943 476 5919", "penicillin", c.PatientIds[0].ToString() })
            Assert.DoesNotContain(pii, all, StringComparison.OrdinalIgnoreCase);
    }
}
