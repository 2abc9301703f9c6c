using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Frontdesk.Tests.Platform;

/// <summary>
/// The generic outbox with a job kind other than SMS (ARCHITECTURE decisions 6 and 13): what the
/// worker records for each handler outcome, a handler that keeps throwing, and the review queue's
/// actions on such jobs (<c>job-{id}</c> items). The handler here is a plug-in of a kind no other
/// instance knows, so only this test's host claims its jobs; everything else is the real outbox,
/// review endpoints and database.
/// </summary>
public class OutboxJobTests
{
    /// <summary>A job kind whose outcomes the test scripts, one per run; Done once the script is used up.</summary>
    sealed class ScriptedHandler : IOutboxHandler
    {
        public string Kind { get; } = "test-" + Guid.NewGuid().ToString("N")[..12];
        public bool Ready => true;
        public ConcurrentQueue<Func<OutboxItem, OutboxResult>> Script { get; } = new();
        public ConcurrentQueue<OutboxItem> Runs { get; } = new();

        public Task<OutboxResult> HandleAsync(OutboxItem item, CancellationToken ct)
        {
            Runs.Enqueue(item);
            return Task.FromResult(Script.TryDequeue(out var next) ? next(item) : new OutboxResult.Done());
        }
    }

    /// <summary>A started host (its workers run from here on: a factory starts its host lazily, on first use).</summary>
    static WebApplicationFactory<Program> Start(ScriptedHandler handler)
    {
        var app = TestApp.Factory.WithWebHostBuilder(b =>
        {
            b.UseSetting("FRONTDESK_OUTBOX_POLL_SECONDS", "0.1");
            b.UseSetting("FRONTDESK_OUTBOX_RETRY_BASE_SECONDS", "0.05");
            b.UseSetting("FRONTDESK_OUTBOX_RETRY_MAX_SECONDS", "0.2");
            b.ConfigureServices(s => s.AddSingleton<IOutboxHandler>(handler));
        });
        app.CreateClient().Dispose();
        return app;
    }

    static Task<long> EnqueueAsync(Guid clinicId, string kind) =>
        TestApp.ScalarAsync<long>("insert into outbox (clinic_id, kind, payload) values ($1, $2, '{\"n\": 1}'::jsonb) returning id", clinicId, kind);

    static Task<string?> StatusAsync(long job) => TestApp.ScalarAsync<string>("select status from outbox where id = $1", job);

    static async Task UntilStatusAsync(long job, string status)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        string? now;
        while ((now = await StatusAsync(job)) != status)
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"job {job} stayed '{now}', expected '{status}'");
            await Task.Delay(50);
        }
    }

    static HttpClient As(WebApplicationFactory<Program> app, Guid clinicId, string role)
    {
        var c = app.CreateClient();
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.Token(RequestClaims.ForClinic(clinicId, "staff-" + role, role)));
        return c;
    }

    static async Task<JsonElement> JsonAsync(HttpResponseMessage r) => JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone();

    [Fact]
    public async Task A_failed_job_waits_in_the_review_queue_and_resend_runs_it_again_from_a_fresh_window()
    {
        var handler = new ScriptedHandler();
        handler.Script.Enqueue(_ => new OutboxResult.Failed("the provider refused it"));
        await using var app = Start(handler);
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var job = await EnqueueAsync(clinic.Id, handler.Kind);
        await TestApp.ExecAsync("update outbox set due_at = now() - interval '3 days' where id = $1", job);
        await UntilStatusAsync(job, "failed");

        using var staff = As(app, clinic.Id, "receptionist");
        var items = (await JsonAsync(await staff.GetAsync($"/api/clinics/{clinic.Id}/review"))).EnumerateArray().ToList();
        var item = Assert.Single(items);
        Assert.Equal("job-" + job, item.GetProperty("id").GetString());
        Assert.Equal(handler.Kind, item.GetProperty("kind").GetString());
        Assert.Equal("failed", item.GetProperty("status").GetString());
        Assert.Equal("the provider refused it", item.GetProperty("reason").GetString());
        Assert.Equal(1, item.GetProperty("attempts").GetInt32());
        Assert.Equal(["resend", "mark_sent", "cancel"], item.GetProperty("actions").EnumerateArray().Select(a => a.GetString()));

        var r = await staff.PostAsJsonAsync($"/api/clinics/{clinic.Id}/review/job-{job}", new { action = "resend" });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var body = await JsonAsync(r);
        Assert.Equal(("job-" + job, "resend", "pending"), (body.GetProperty("id").GetString(), body.GetProperty("action").GetString(), body.GetProperty("status").GetString()));
        Assert.Equal(JsonValueKind.Null, body.GetProperty("newMessageId").ValueKind);
        await UntilStatusAsync(job, "done");

        // Run again as a fresh job: attempts from zero, due from the resend (not three days ago).
        var rerun = handler.Runs.Last();
        Assert.Equal(2, handler.Runs.Count);
        Assert.Equal(1, rerun.Attempts);
        Assert.Equal("pending", rerun.PreviousStatus);
        Assert.True(DateTimeOffset.UtcNow - rerun.DueAt < TimeSpan.FromHours(1), rerun.DueAt.ToString("O"));
        Assert.Empty((await JsonAsync(await staff.GetAsync($"/api/clinics/{clinic.Id}/review"))).EnumerateArray());
        Assert.Equal("""{"status": "pending", "previousStatus": "failed"}""", await TestApp.ScalarAsync<string>(
            "select detail::text from audit_trail where clinic_id = $1 and action = 'review_resend' and entity = 'outbox_job' and entity_id = $2",
            clinic.Id, job.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        // Decided once: the job is no longer one to review.
        var again = await staff.PostAsJsonAsync($"/api/clinics/{clinic.Id}/review/job-{job}", new { action = "cancel" });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        var conflict = await JsonAsync(again);
        Assert.Equal(Problems.Conflict, conflict.GetProperty("type").GetString());
        Assert.Equal("The job is 'done': nothing to review.", conflict.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("mark_sent", "done")]
    [InlineData("cancel", "cancelled")]
    public async Task A_job_held_for_review_is_closed_by_mark_sent_or_cancel_and_never_runs_again(string action, string status)
    {
        var handler = new ScriptedHandler();
        handler.Script.Enqueue(_ => new OutboxResult.Review("outcome unknown"));
        await using var app = Start(handler);
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var job = await EnqueueAsync(clinic.Id, handler.Kind);
        await UntilStatusAsync(job, "review");
        Assert.Equal("outcome unknown", await TestApp.ScalarAsync<string>("select last_error from outbox where id = $1", job));

        using var admin = As(app, clinic.Id, "admin");
        var r = await admin.PostAsJsonAsync($"/api/clinics/{clinic.Id}/review/job-{job}", new { action });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(status, (await JsonAsync(r)).GetProperty("status").GetString());
        Assert.Equal(status, await StatusAsync(job));
        await Task.Delay(500);   // several polls of the worker
        Assert.Single(handler.Runs);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = $2 and entity_id = $3", clinic.Id, "review_" + action,
            job.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task Review_ids_that_name_no_job_of_the_clinic_are_not_found_and_change_nothing()
    {
        var handler = new ScriptedHandler();
        handler.Script.Enqueue(_ => new OutboxResult.Failed("no"));
        await using var app = Start(handler);
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var theirs = await EnqueueAsync(other.Id, handler.Kind);
        await UntilStatusAsync(theirs, "failed");
        // An SMS job is reviewed through its message, never as a job.
        var sms = await TestApp.ScalarAsync<long>(
            "insert into outbox (clinic_id, kind, payload, status) values ($1, 'sms', '{}'::jsonb, 'failed') returning id", clinic.Id);

        using var admin = As(app, clinic.Id, "admin");
        foreach (var id in new[] { $"job-{theirs}", $"job-{sms}", "job-", "job-x1", "job-99999999999999999999", "message-1", new string('9', 65) })
        {
            var r = await admin.PostAsJsonAsync($"/api/clinics/{clinic.Id}/review/{id}", new { action = "resend" });
            Assert.True(r.StatusCode == HttpStatusCode.NotFound, $"{id}: {(int)r.StatusCode}");
            Assert.Equal(Problems.NotFound, (await JsonAsync(r)).GetProperty("type").GetString());
        }
        Assert.Equal("failed", await StatusAsync(theirs));
        Assert.Equal("failed", await StatusAsync(sms));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id in ($1, $2) and action like 'review_%'", clinic.Id, other.Id));
    }

    [Fact]
    public async Task A_handler_that_keeps_throwing_is_retried_and_given_up_as_failed_after_the_maximum_job_age()
    {
        var handler = new ScriptedHandler();
        handler.Script.Enqueue(_ => throw new InvalidOperationException("a bug in the handler"));
        handler.Script.Enqueue(_ => throw new InvalidOperationException("a bug in the handler"));
        await using var app = Start(handler);
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var job = await EnqueueAsync(clinic.Id, handler.Kind);

        // Thrown once, young: a retry, with the exception's type (never its message) as the error.
        var until = DateTime.UtcNow.AddSeconds(60);
        while (handler.Runs.IsEmpty || await StatusAsync(job) != "pending")
        {
            Assert.True(DateTime.UtcNow < until, "not run");
            await Task.Delay(50);
        }
        Assert.Equal("InvalidOperationException", await TestApp.ScalarAsync<string>("select last_error from outbox where id = $1", job));

        // Thrown again two days after it became due (the default age is 48 h): given up.
        await TestApp.ExecAsync("update outbox set due_at = now() - interval '49 hours', next_attempt_at = now() where id = $1", job);
        await UntilStatusAsync(job, "failed");
        Assert.Equal("gave up after 2 attempts over 48 h: InvalidOperationException",
            await TestApp.ScalarAsync<string>("select last_error from outbox where id = $1", job));
        using var staff = As(app, clinic.Id, "receptionist");
        var item = Assert.Single((await JsonAsync(await staff.GetAsync($"/api/clinics/{clinic.Id}/review"))).EnumerateArray());
        Assert.Equal("job-" + job, item.GetProperty("id").GetString());
    }

    [Fact]
    public async Task A_deferred_run_is_not_an_attempt_and_the_job_runs_again_when_it_falls_due()
    {
        var handler = new ScriptedHandler();
        handler.Script.Enqueue(_ => new OutboxResult.Defer(DateTimeOffset.UtcNow.AddMilliseconds(300), "quiet hours"));
        handler.Script.Enqueue(item => new OutboxResult.Retry(DateTimeOffset.UtcNow.AddMilliseconds(100), "throttled"));
        await using var app = Start(handler);
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var job = await EnqueueAsync(clinic.Id, handler.Kind);
        await UntilStatusAsync(job, "done");
        Assert.Equal([1, 1, 2], handler.Runs.Select(r => r.Attempts));
        Assert.Equal(2, await TestApp.ScalarAsync<int>("select attempts from outbox where id = $1", job));
    }

    [Fact]
    public async Task A_handler_whose_own_timeout_cancels_it_is_retried_at_once_not_left_processing_until_its_lease_runs_out()
    {
        // An HttpClient timeout or a command timeout surfaces as a TaskCanceledException while the worker
        // itself is not stopping: that is one failed attempt. It used to escape the worker, leaving the job
        // 'processing' for the lease (120 s).
        var handler = new ScriptedHandler();
        handler.Script.Enqueue(_ => throw new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout"));
        await using var app = Start(handler);
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var job = await EnqueueAsync(clinic.Id, handler.Kind);
        await UntilStatusAsync(job, "done");
        Assert.Equal([1, 2], handler.Runs.Select(r => r.Attempts));   // the second run is the retry, not a lease recovery
    }
}
