using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Frontdesk.Knowledge;

/// <summary>
/// Speculative knowledge search, keyed by call. Vapi sends partial transcripts and conversation
/// updates to the webhook before the caller's turn ends; a search started then is usually finished
/// by the time the model request for that turn arrives, which takes it off the critical path.
/// A cache, deliberately in memory (ARCHITECTURE: state lives in PostgreSQL; this is not state):
/// on another instance, after the TTL, or for a changed question it is a miss and we search inline.
///
/// Bounded (issue 16), so a burst of transcripts cannot take the connections tool calls need: per
/// call at most one search runs and one waits (the latest question replaces a waiting one: coalesced);
/// per instance at most <see cref="MaxConcurrent"/> prefetch searches run at once, max(2, pool / 10),
/// and a prefetch that finds none free is dropped (the model request then searches itself). Nothing
/// queues without bound.
/// </summary>
public sealed partial class KnowledgePrefetch(Db db, ILogger<KnowledgePrefetch> log, KnowledgeEmbeddings embeddings)
{
    public const int K = 3;
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);
    const int MaxCalls = 10_000;

    static readonly Counter<long> Outcomes = FrontdeskMeter.Meter.CreateCounter<long>("frontdesk.knowledge.prefetch",
        description: "Knowledge lookups on the model path by outcome: hit (prefetched), stale (prefetched for another question), miss");

    static readonly Counter<long> Starts = FrontdeskMeter.Meter.CreateCounter<long>("frontdesk.knowledge.prefetch.starts",
        description: "Speculative searches asked for, by outcome: started, coalesced (replaced a waiting one of the same call), dropped (instance at its limit)");

    /// <summary>A call's latest prefetch. <see cref="Result"/> is null when the search did not run or failed.</summary>
    sealed record Entry(Guid ClinicId, string Key, Task<IReadOnlyList<KnowledgeHit>?> Result, long StartedAt);

    readonly ConcurrentDictionary<string, Entry> _byCall = new(StringComparer.Ordinal);
    readonly Lock _gate = new();
    long _hits, _stale, _misses, _searches, _coalesced, _dropped;
    int _running;

    /// <summary>Prefetch searches allowed to run at once on this instance: a tenth of the connection pool, at least 2.</summary>
    public int MaxConcurrent { get; } = Math.Max(2, new Npgsql.NpgsqlConnectionStringBuilder(db.DataSource.ConnectionString).MaxPoolSize / 10);

    public long Hits => Interlocked.Read(ref _hits);
    public long Stale => Interlocked.Read(ref _stale);
    public long Misses => Interlocked.Read(ref _misses);
    /// <summary>Prefetch searches that ran (or are running).</summary>
    public long Searches => Interlocked.Read(ref _searches);
    public long Coalesced => Interlocked.Read(ref _coalesced);
    public long Dropped => Interlocked.Read(ref _dropped);
    /// <summary>Prefetch searches running now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Starts (or keeps) the search for this call's current question; never waits for it.</summary>
    public void Start(Guid clinicId, string? callId, string? question)
    {
        if (string.IsNullOrEmpty(callId) || string.IsNullOrWhiteSpace(question) || question.Length > KnowledgeQuery.MaxQueryChars) return;
        var query = KnowledgeQuery.Parse(question);
        if (query.IsEmpty) return;
        if (_byCall.Count >= MaxCalls) Sweep();
        // One decision at a time: cheap (no I/O under the lock), and a call's entry cannot change
        // between reading it and replacing it.
        lock (_gate)
        {
            var found = _byCall.TryGetValue(callId, out var current);
            if (found && current!.ClinicId == clinicId && current.Key == query.Key && Fresh(current))
                return;
            if (found && !current!.Result.IsCompleted)
            {
                // The call's search is still running: this question waits behind it, replacing any
                // question already waiting (whose search then never runs: it would answer an old question).
                _byCall[callId] = new Entry(clinicId, query.Key, AfterAsync(current.Result, callId, clinicId, query), Environment.TickCount64);
                Interlocked.Increment(ref _coalesced);
                Starts.Add(1, new KeyValuePair<string, object?>("outcome", "coalesced"));
                return;
            }
            if (!TryTakeSlot())
            {
                // No entry rather than an old one: the model request searches for itself.
                if (found) _byCall.TryRemove(callId, out _);
                return;
            }
            _byCall[callId] = new Entry(clinicId, query.Key, RunAsync(clinicId, query), Environment.TickCount64);
        }
    }

    bool TryTakeSlot()
    {
        if (Interlocked.Increment(ref _running) <= MaxConcurrent) return true;
        Interlocked.Decrement(ref _running);
        Interlocked.Increment(ref _dropped);
        Starts.Add(1, new KeyValuePair<string, object?>("outcome", "dropped"));
        return false;
    }

    /// <summary>Runs a waiting question once the call's running search ends, unless a newer question replaced it.</summary>
    async Task<IReadOnlyList<KnowledgeHit>?> AfterAsync(Task<IReadOnlyList<KnowledgeHit>?> before, string callId, Guid clinicId, KnowledgeQuery query)
    {
        // Always yields, so this never runs inside Start's lock before its entry is stored.
        await ((Task)before).ConfigureAwait(ConfigureAwaitOptions.ForceYielding | ConfigureAwaitOptions.SuppressThrowing);
        if (!_byCall.TryGetValue(callId, out var latest) || latest.Key != query.Key || latest.ClinicId != clinicId) return null;
        if (!TryTakeSlot()) return null;
        return await RunAsync(clinicId, query).ConfigureAwait(false);
    }

    /// <summary>One search on a slot already taken; frees the slot when done.</summary>
    async Task<IReadOnlyList<KnowledgeHit>?> RunAsync(Guid clinicId, KnowledgeQuery query)
    {
        Interlocked.Increment(ref _searches);
        Starts.Add(1, new KeyValuePair<string, object?>("outcome", "started"));
        try
        {
            await Task.Yield();   // the webhook answers Vapi now; the search runs on its own
            return await KnowledgeStore.SearchAsync(db, RequestClaims.ForClinic(clinicId, "vapi_agent", "agent"), clinicId, query, K, embeddings, CancellationToken.None);
        }
        catch (Exception e)
        {
            // Speculative: whatever went wrong (the database, the clinic's share of it, the embeddings), the model
            // request searches for itself. A faulted prefetch must never become that request's failure.
            Log.PrefetchFailed(log, e.GetType().Name);
            return null;
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    /// <summary>The knowledge for the caller's latest question: the prefetched result when it is for
    /// the same question (waiting only for what is still running), otherwise a search now. Gives up
    /// after <paramref name="budget"/>: an answer without context beats a silence.</summary>
    public async Task<(IReadOnlyList<KnowledgeHit> Hits, string Outcome)> GetAsync(Guid clinicId, string? callId, string? question, TimeSpan budget, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(question) || question.Length > KnowledgeQuery.MaxQueryChars) return ([], "none");
        var query = KnowledgeQuery.Parse(question);
        if (query.IsEmpty) return ([], "none");

        string outcome;
        Task<IReadOnlyList<KnowledgeHit>> task;
        if (callId is not null && _byCall.TryGetValue(callId, out var e) && e.ClinicId == clinicId && Fresh(e))
        {
            if (e.Key == query.Key)
            {
                (outcome, task) = ("hit", OrSearchAsync(e.Result, clinicId, query, ct));
                Interlocked.Increment(ref _hits);
            }
            else
            {
                (outcome, task) = ("stale", KnowledgeStore.SearchAsync(db, RequestClaims.ForClinic(clinicId, "vapi_agent", "agent"), clinicId, query, K, embeddings, ct));
                Interlocked.Increment(ref _stale);
            }
        }
        else
        {
            (outcome, task) = ("miss", KnowledgeStore.SearchAsync(db, RequestClaims.ForClinic(clinicId, "vapi_agent", "agent"), clinicId, query, K, embeddings, ct));
            Interlocked.Increment(ref _misses);
        }
        Outcomes.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
        try
        {
            return (await task.WaitAsync(budget, ct), outcome);
        }
        catch (TimeoutException)
        {
            Log.KnowledgeTooSlow(log, (int)budget.TotalMilliseconds);
            return ([], outcome + "-timeout");
        }
        catch (Exception failure) when (failure is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // The search failed (database unreachable, the clinic's share of the pool taken, …): the turn is
            // answered without context rather than not at all, as when the search is too slow.
            Log.KnowledgeFailed(log, failure.GetType().Name);
            return ([], outcome + "-error");
        }
    }

    // A prefetch that did not run (replaced, dropped, failed) answers with a search of its own.
    async Task<IReadOnlyList<KnowledgeHit>> OrSearchAsync(Task<IReadOnlyList<KnowledgeHit>?> prefetched, Guid clinicId, KnowledgeQuery query, CancellationToken ct) =>
        await prefetched ?? await KnowledgeStore.SearchAsync(db, RequestClaims.ForClinic(clinicId, "vapi_agent", "agent"), clinicId, query, K, embeddings, ct);

    public void Forget(string? callId)
    {
        if (callId is not null) _byCall.TryRemove(callId, out _);
    }

    static bool Fresh(Entry e) => Environment.TickCount64 - e.StartedAt < Ttl.TotalMilliseconds;

    void Sweep()
    {
        foreach (var (key, entry) in _byCall)
            if (!Fresh(entry)) _byCall.TryRemove(key, out _);
        // Still full of fresh entries (a burst): drop the oldest half rather than grow without bound.
        if (_byCall.Count >= MaxCalls)
            foreach (var (key, _) in _byCall.OrderBy(kv => kv.Value.StartedAt).Take(MaxCalls / 2).ToList())
                _byCall.TryRemove(key, out _);
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Knowledge prefetch failed with {ExceptionType}")]
        public static partial void PrefetchFailed(ILogger logger, string exceptionType);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Knowledge search exceeded its {BudgetMs} ms budget; answering without context")]
        public static partial void KnowledgeTooSlow(ILogger logger, int budgetMs);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Knowledge search failed with {ExceptionType}; answering without context")]
        public static partial void KnowledgeFailed(ILogger logger, string exceptionType);
    }
}

/// <summary>The one <c>Meter("Frontdesk")</c> the knowledge and latency features record on.</summary>
public static class FrontdeskMeter
{
    public static readonly Meter Meter = new("Frontdesk");
}
