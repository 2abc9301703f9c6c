using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Frontdesk.Tests.Platform;

/// <summary>Issue 16: a writing transaction never sends NOTIFY (PostgreSQL serializes every notifying
/// commit in the cluster on one lock); workers are woken after commit, once per burst.</summary>
public class WakeUpTests
{
    [Fact]
    public async Task No_trigger_or_function_in_the_schema_sends_notify_from_a_writers_transaction()
    {
        var notifying = await TestApp.ListAsync<string>("""
            select p.proname::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = 'public' and p.prokind = 'f'
              and (p.prosrc ~* 'pg_notify\s*\(' or p.prosrc ~* '(^|[^a-z_])notify\s+[a-z_"]')
            order by 1
            """);
        Assert.Empty(notifying);
    }

    [Fact]
    public async Task A_signal_after_commit_reaches_listeners_on_other_instances_once_per_burst()
    {
        await using var listener = await TestApp.AdminConnectionAsync();
        var heard = 0;
        listener.Notification += (_, e) => { if (e.Channel == Outbox.Channel) Interlocked.Increment(ref heard); };
        await using (var cmd = new NpgsqlCommand("listen " + Outbox.Channel, listener)) await cmd.ExecuteNonQueryAsync();

        var outbox = TestApp.Factory.Services.GetRequiredService<Outbox>();
        for (var i = 0; i < 200; i++) outbox.Signal();   // a burst of commits on this instance

        var until = DateTime.UtcNow.AddSeconds(30);
        while (Volatile.Read(ref heard) == 0)
        {
            Assert.True(DateTime.UtcNow < until, "no NOTIFY reached the other instance");
            using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            try { await listener.WaitAsync(wait.Token); } catch (OperationCanceledException) { }
        }
        // Debounced: far fewer notifications than signals (other tests may signal too, so not exactly one).
        Assert.InRange(Volatile.Read(ref heard), 1, 20);
    }

    [Fact]
    public async Task A_claim_wakes_the_calendar_worker_after_commit_through_the_database_handle()
    {
        var c = await TestClinic.CreateAsync(slots: 1, patients: 1);
        var topics = new System.Collections.Concurrent.ConcurrentQueue<string>();
        void Record(string t) => topics.Enqueue(t);
        TestApp.Db.Committed += Record;
        try
        {
            using var client = TestApp.As(c.Id, "receptionist");
            await TestClinic.Json(await System.Net.Http.Json.HttpClientJsonExtensions.PostAsJsonAsync(client,
                "/functions/v1/claim_slot_atomic", new { slotId = c.SlotIds[0], patientId = c.PatientIds[0], clinicId = c.Id }));
        }
        finally
        {
            TestApp.Db.Committed -= Record;
        }
        Assert.Contains("bookings", topics);
    }
}
