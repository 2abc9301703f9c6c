using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Frontdesk.Tests.Infrastructure;

/// <summary>A logger provider that keeps every line it is given: the message, the exception and every
/// structured value. Filtering is the host's (its configured levels apply to this provider as to any).</summary>
public sealed class LogCapture : ILoggerProvider
{
    readonly ConcurrentQueue<(long Seq, string Category, LogLevel Level, string Text)> _lines = new();
    long _seq;

    public long Mark => Interlocked.Read(ref _seq);

    /// <summary>Lines written after <paramref name="mark"/> (from <see cref="Mark"/>).</summary>
    public IReadOnlyList<(string Category, LogLevel Level, string Text)> Since(long mark) =>
        _lines.Where(l => l.Seq > mark).OrderBy(l => l.Seq).Select(l => (l.Category, l.Level, l.Text)).ToList();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = $"{formatter(state, exception)} {exception}";
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
                text += " " + string.Join(" ", values.Select(kv => $"{kv.Key}={kv.Value}"));
            owner._lines.Enqueue((Interlocked.Increment(ref owner._seq), category, logLevel, text));
        }
    }
}
