using System.Net.Http.Json;
using Frontdesk.Knowledge;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Frontdesk.Tests.Knowledge;

/// <summary>Issue 16: speculative searches are bounded per call and per instance. The prefetcher runs
/// on a pool of one connection that the test holds, so every search it starts stays in flight until
/// the test lets go — what it started, coalesced and dropped is then exact.</summary>
public class KnowledgePrefetchBoundsTests
{
    const string Question = "how much is a nose job";

    static async Task<Guid> ClinicWithPricesAsync()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = TestApp.As(c.Id);
        await TestClinic.Json(await admin.PostAsJsonAsync($"/api/clinics/{c.Id}/knowledge/documents", new
        {
            title = "Prices",
            source = "prices.md",
            content = "# Prices\n\nRhinoplasty (nose job) costs £6,500.\n\nA facelift costs £9,000.\n\nParking is on Cavendish Square.\n\nWe open at 9am on weekdays.",
        }));
        return c.Id;
    }

    static NpgsqlDataSource OneConnectionPool() => DatabaseHost.BuildDataSource(
        new NpgsqlConnectionStringBuilder(TestApp.Db.DataSource.ConnectionString) { MaxPoolSize = 1, Timeout = 60 }.ConnectionString);

    static KnowledgePrefetch Prefetcher(NpgsqlDataSource pool) => new(new Db(pool), NullLogger<KnowledgePrefetch>.Instance,
        new KnowledgeEmbeddings(new ConfigurationBuilder().Build(), NullLogger<KnowledgeEmbeddings>.Instance));

    static async Task IdleAsync(KnowledgePrefetch p)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (p.Running > 0)
        {
            Assert.True(DateTime.UtcNow < until, "prefetch searches did not finish");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task A_search_that_fails_leaves_the_turn_without_context_instead_of_failing_it()
    {
        // A database nobody answers on: the prefetch fails in the background and the model request's own search
        // fails too. The custom-LLM turn must still be answered (CI once saw one turn in 40 end in a 500 here).
        await using var nowhere = DatabaseHost.BuildDataSource(
            $"Host=127.0.0.1;Port={Platform.FirstRunTests.FreePort()};Username=nobody;Database=none;Timeout=2;Pooling=false");
        var prefetch = Prefetcher(nowhere);
        var clinic = Guid.NewGuid();

        prefetch.Start(clinic, "call-down", Question);
        await IdleAsync(prefetch);
        var (hits, outcome) = await prefetch.GetAsync(clinic, "call-down", Question, TimeSpan.FromSeconds(30), default);
        Assert.Empty(hits);
        Assert.Equal("hit-error", outcome);      // the faulted prefetch, then its own search, both failed
        (hits, outcome) = await prefetch.GetAsync(clinic, "call-other", Question, TimeSpan.FromSeconds(30), default);
        Assert.Empty(hits);
        Assert.Equal("miss-error", outcome);
        // The caller hanging up is still a cancellation, not an empty answer.
        using var hungUp = new CancellationTokenSource();
        await hungUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => prefetch.GetAsync(clinic, "call-gone", Question, TimeSpan.FromSeconds(30), hungUp.Token));
    }

    [Fact]
    public async Task A_burst_of_transcripts_across_calls_runs_at_most_the_instance_limit_and_drops_the_rest()
    {
        var clinic = await ClinicWithPricesAsync();
        await using var pool = OneConnectionPool();
        var prefetch = Prefetcher(pool);
        Assert.Equal(2, prefetch.MaxConcurrent);   // max(2, pool / 10)

        await using (await pool.OpenConnectionAsync())   // every search now waits for this connection
        {
            for (var i = 0; i < 50; i++) prefetch.Start(clinic, $"call-{i}", Question);
            Assert.Equal(2, prefetch.Running);
            Assert.Equal(2, prefetch.Searches);
            Assert.Equal(48, prefetch.Dropped);
        }
        await IdleAsync(prefetch);

        var (hits, outcome) = await prefetch.GetAsync(clinic, "call-0", Question, TimeSpan.FromSeconds(30), default);
        Assert.Equal("hit", outcome);
        Assert.Contains(hits, h => h.Text.Contains("£6,500", StringComparison.Ordinal));
        // A dropped call loses nothing but the head start: its model request searches itself.
        (hits, outcome) = await prefetch.GetAsync(clinic, "call-49", Question, TimeSpan.FromSeconds(30), default);
        Assert.Equal("miss", outcome);
        Assert.Contains(hits, h => h.Text.Contains("£6,500", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Partial_transcripts_of_one_call_run_one_search_at_a_time_and_only_the_latest_waits()
    {
        var clinic = await ClinicWithPricesAsync();
        await using var pool = OneConnectionPool();
        var prefetch = Prefetcher(pool);

        await using (await pool.OpenConnectionAsync())
        {
            foreach (var partial in new[] { "where do I park", "when do you open", "how much is a facelift", "how much is a nose", Question })
                prefetch.Start(clinic, "call-1", partial);
            Assert.Equal(1, prefetch.Running);
            Assert.Equal(1, prefetch.Searches);
            Assert.Equal(4, prefetch.Coalesced);
        }

        var (hits, outcome) = await prefetch.GetAsync(clinic, "call-1", Question, TimeSpan.FromSeconds(30), default);
        Assert.Equal("hit", outcome);
        Assert.Contains(hits, h => h.Text.Contains("£6,500", StringComparison.Ordinal));
        await IdleAsync(prefetch);
        Assert.Equal(2, prefetch.Searches);   // the first and the latest; the three in between never ran
        Assert.Equal(0, prefetch.Dropped);
    }

    [Fact]
    public async Task A_repeated_question_is_not_searched_again_another_question_is_stale_and_a_forgotten_call_is_a_miss()
    {
        var clinic = await ClinicWithPricesAsync();
        await using var pool = OneConnectionPool();
        var prefetch = Prefetcher(pool);

        prefetch.Start(clinic, "call-1", Question);
        await IdleAsync(prefetch);
        prefetch.Start(clinic, "call-1", Question);   // the same words again (another partial transcript)
        Assert.Equal(1, prefetch.Searches);
        Assert.Equal(0, prefetch.Running);

        // The model asks about something else than what was prefetched: searched now, and counted as stale.
        var (hits, outcome) = await prefetch.GetAsync(clinic, "call-1", "where do I park", TimeSpan.FromSeconds(30), default);
        Assert.Equal("stale", outcome);
        Assert.Contains(hits, h => h.Text.Contains("Cavendish Square", StringComparison.Ordinal));
        Assert.Equal((0L, 1L, 0L), (prefetch.Hits, prefetch.Stale, prefetch.Misses));

        // Another clinic's question under the same call id is never served from this clinic's prefetch.
        var other = await ClinicWithPricesAsync();
        (_, outcome) = await prefetch.GetAsync(other, "call-1", Question, TimeSpan.FromSeconds(30), default);
        Assert.Equal("miss", outcome);

        // The call ended: its prefetch is forgotten, the next lookup searches itself.
        prefetch.Forget("call-1");
        (hits, outcome) = await prefetch.GetAsync(clinic, "call-1", Question, TimeSpan.FromSeconds(30), default);
        Assert.Equal("miss", outcome);
        Assert.Contains(hits, h => h.Text.Contains("£6,500", StringComparison.Ordinal));
        Assert.Equal((0L, 1L, 2L), (prefetch.Hits, prefetch.Stale, prefetch.Misses));
        Assert.Equal(1, prefetch.Searches);   // lookups on the model path are not prefetches
    }
}
