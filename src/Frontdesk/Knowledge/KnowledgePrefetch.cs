using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Frontdesk.Knowledge;

/// <summary>
/// Speculative knowledge search, keyed by call. Vapi sends partial transcripts and conversation
/// updates to the webhook before the caller's turn ends; a search started then is usually finished
/// by the time the model request for that turn arrives, which takes it off the critical path.
/// A cache, deliberately in memory (ARCHITECTURE: state lives in PostgreSQL; this is not state):
/// on another instance, after the TTL, or for a changed question it is a miss and we search inline.
/// </summary>
public sealed partial class KnowledgePrefetch(Db db, ILogger<KnowledgePrefetch> log, KnowledgeEmbeddings embeddings)
{
    public const int K = 3;
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);
    const int MaxCalls = 10_000;

    static readonly Counter<long> Outcomes = FrontdeskMeter.Meter.CreateCounter<long>("frontdesk.knowledge.prefetch",
        description: "Knowledge lookups on the model path by outcome: hit (prefetched), stale (prefetched for another question), miss");

    sealed record Entry(Guid ClinicId, string Key, Task<IReadOnlyList<KnowledgeHit>> Result, long StartedAt);

    readonly ConcurrentDictionary<string, Entry> _byCall = new(StringComparer.Ordinal);
    long _hits, _stale, _misses;

    public long Hits => Interlocked.Read(ref _hits);
    public long Stale => Interlocked.Read(ref _stale);
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Starts (or keeps) the search for this call's current question; never waits for it.</summary>
    public void Start(Guid clinicId, string? callId, string? question)
    {
        if (string.IsNullOrEmpty(callId) || string.IsNullOrWhiteSpace(question) || question.Length > KnowledgeQuery.MaxQueryChars) return;
        var query = KnowledgeQuery.Parse(question);
        if (query.IsEmpty) return;
        if (_byCall.TryGetValue(callId, out var current) && current.ClinicId == clinicId && current.Key == query.Key && Fresh(current))
            return;
        if (_byCall.Count >= MaxCalls) Sweep();
        var task = SearchQuietly(clinicId, query);
        _byCall[callId] = new Entry(clinicId, query.Key, task, Environment.TickCount64);
    }

    async Task<IReadOnlyList<KnowledgeHit>> SearchQuietly(Guid clinicId, KnowledgeQuery query)
    {
        await Task.Yield();   // the webhook answers Vapi now; the search runs on its own
        try
        {
            return await KnowledgeStore.SearchAsync(db, RequestClaims.ForClinic(clinicId, "vapi_agent", "agent"), clinicId, query, K, embeddings, CancellationToken.None);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            Log.PrefetchFailed(log, e.GetType().Name);
            return [];
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
                (outcome, task) = ("hit", e.Result);
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
    }

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
    }
}

/// <summary>The one <c>Meter("Frontdesk")</c> the knowledge and latency features record on.</summary>
public static class FrontdeskMeter
{
    public static readonly Meter Meter = new("Frontdesk");
}
