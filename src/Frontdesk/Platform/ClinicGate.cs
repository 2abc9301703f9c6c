using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;

namespace Frontdesk.Platform;

/// <summary>Per-clinic limits on database work (section <c>Database</c>, e.g.
/// <c>Database__PerClinicConnections</c>). 0 means "derive from the connection pool".</summary>
public sealed class ClinicGateOptions
{
    /// <summary>Tenant sessions one clinic may hold at once; 0 → a quarter of the pool (at least 2).</summary>
    [Range(0, 10_000)] public int PerClinicConnections { get; set; }

    /// <summary>Sessions of one clinic that may wait for a turn; 0 → four times the pool.</summary>
    [Range(0, 100_000)] public int PerClinicQueue { get; set; }

    /// <summary>Longest wait for a turn before the request is refused with 429.</summary>
    [Range(1, 600_000)] public int PerClinicWaitMilliseconds { get; set; } = 5000;
}

/// <summary>A clinic had as much database work in flight and waiting as it may; HTTP answers 429 with
/// <c>Retry-After</c> (Platform/HttpPipeline.cs). Nothing was written.</summary>
public sealed class ClinicBusyException(Guid clinicId, TimeSpan retryAfter)
    : Exception("The clinic has too much database work in progress; try again shortly.")
{
    public Guid ClinicId { get; } = clinicId;
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>
/// One clinic's burst cannot starve the others (issue 16): every tenant session (Db.BeginAsync,
/// Db.QueryOnceAsync with a clinic in its claims) takes a turn from its clinic's gate first. A clinic
/// holds at most <see cref="PermitsPerClinic"/> connections of the pool, so the rest stays free for
/// every other clinic; beyond that its sessions wait in a bounded queue, and beyond the queue (or
/// after the longest wait) the request is refused at once with 429 rather than queued without bound.
/// Per instance, like the pool it divides.
/// </summary>
public sealed class ClinicGate
{
    const int SweepAbove = 10_000;

    static readonly Counter<long> Refused = Knowledge.FrontdeskMeter.Meter.CreateCounter<long>("frontdesk.db.clinic_busy",
        description: "Tenant sessions refused (429) because their clinic had its share of the connection pool in use and waiting");

    // SemaphoreSlim holds nothing to dispose unless its AvailableWaitHandle is used, which it is not;
    // disposing one a sweep just dropped could fail a session that took it a moment before.
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "See the comment above.")]
    sealed class Turns(int permits)
    {
        public readonly SemaphoreSlim Permits = new(permits, permits);
        public int Waiting;
    }

    readonly ConcurrentDictionary<Guid, Turns> _clinics = new();

    public int PermitsPerClinic { get; }
    public int QueuePerClinic { get; }
    public TimeSpan MaxWait { get; }

    public ClinicGate(int permitsPerClinic, int queuePerClinic, TimeSpan maxWait)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(permitsPerClinic, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(queuePerClinic);
        PermitsPerClinic = permitsPerClinic;
        QueuePerClinic = queuePerClinic;
        MaxWait = maxWait;
    }

    /// <summary>Sized from the pool: a quarter of it per clinic (at least 2), and four times the pool
    /// waiting (a waiting session holds no connection, only a place in line), unless configured.</summary>
    public static ClinicGate FromPool(int maxPoolSize, ClinicGateOptions options) => new(
        options.PerClinicConnections > 0 ? options.PerClinicConnections : Math.Max(2, maxPoolSize / 4),
        options.PerClinicQueue > 0 ? options.PerClinicQueue : Math.Max(1, 4 * maxPoolSize),
        TimeSpan.FromMilliseconds(options.PerClinicWaitMilliseconds));

    /// <summary>Sessions of <paramref name="clinicId"/> in flight now (for tests and diagnostics).</summary>
    public int InUse(Guid clinicId) => _clinics.TryGetValue(clinicId, out var t) ? PermitsPerClinic - t.Permits.CurrentCount : 0;

    /// <summary>Takes a turn for the clinic; dispose the result to give it back.</summary>
    /// <exception cref="ClinicBusyException">The clinic's queue is full, or its turn did not come within <see cref="MaxWait"/>.</exception>
    public async ValueTask<IDisposable> EnterAsync(Guid clinicId, CancellationToken ct)
    {
        if (_clinics.Count > SweepAbove) Sweep();
        var turns = _clinics.GetOrAdd(clinicId, static (_, permits) => new Turns(permits), PermitsPerClinic);
        if (turns.Permits.Wait(0, CancellationToken.None)) return new Turn(turns.Permits);
        if (Interlocked.Increment(ref turns.Waiting) > QueuePerClinic)
        {
            Interlocked.Decrement(ref turns.Waiting);
            throw Busy(clinicId);
        }
        try
        {
            if (!await turns.Permits.WaitAsync(MaxWait, ct)) throw Busy(clinicId);
        }
        finally
        {
            Interlocked.Decrement(ref turns.Waiting);
        }
        return new Turn(turns.Permits);
    }

    static ClinicBusyException Busy(Guid clinicId)
    {
        Refused.Add(1);
        return new ClinicBusyException(clinicId, TimeSpan.FromSeconds(1));
    }

    // Idle clinics' gates are dropped when many clinics have come and gone. A gate dropped just as a
    // session takes it only lets that clinic exceed its share briefly; nothing else depends on it.
    void Sweep()
    {
        foreach (var (id, t) in _clinics)
            if (t.Permits.CurrentCount == PermitsPerClinic && Volatile.Read(ref t.Waiting) == 0)
                _clinics.TryRemove(new KeyValuePair<Guid, Turns>(id, t));
    }

    sealed class Turn(SemaphoreSlim permits) : IDisposable
    {
        int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) permits.Release();
        }
    }
}
