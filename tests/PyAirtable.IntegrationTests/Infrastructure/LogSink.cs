using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace PyAirtable.IntegrationTests.Infrastructure;

/// <summary>One log entry with the scopes that were open when it was written.</summary>
/// <param name="Request">The number of the request that logged it (<see cref="InFlightRequests.Current"/>; 0 outside any request).</param>
public sealed record CapturedLog(string Category, LogLevel Level, string Message, Exception? Exception, IReadOnlyList<object> Scopes,
    long Request = 0)
{
    public string? RequestId => Scopes
        .OfType<IEnumerable<KeyValuePair<string, object>>>()
        .SelectMany(s => s)
        .Where(kv => kv.Key == "RequestId")
        .Select(kv => kv.Value?.ToString())
        .LastOrDefault();

    public override string ToString() => $"{Level} {Category}: {Message}{(Exception is null ? "" : $" | {Exception.GetType().Name}: {Exception.Message} <- {Exception.InnerException?.GetType().Name}: {Exception.InnerException?.Message}")}";
}

/// <summary>
/// Captures every log entry of a host. Error-level entries must be taken by the test that caused
/// them (<see cref="TakeErrors"/>); any left over fail the test class, so an unexpected error
/// anywhere in the pipeline does not pass unnoticed.
/// </summary>
public sealed class LogSink : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<CapturedLog> _entries = new();
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public IReadOnlyList<CapturedLog> Entries => [.. _entries];

    public IReadOnlyList<CapturedLog> TakeErrors(Func<CapturedLog, bool> expected)
    {
        var taken = Entries.Where(e => e.Level >= LogLevel.Error && expected(e)).ToList();
        foreach (var entry in taken)
        {
            _taken.TryAdd(entry, true);
        }

        return taken;
    }

    private readonly ConcurrentDictionary<CapturedLog, bool> _taken = new(ReferenceEqualityComparer.Instance);

    public IReadOnlyList<CapturedLog> UnexpectedErrors =>
        Entries.Where(e => e.Level >= LogLevel.Error && !_taken.ContainsKey(e)).ToList();

    public ILogger CreateLogger(string categoryName) => new SinkLogger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose() { }

    private sealed class SinkLogger(LogSink sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => sink._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scopes = new List<object>();
            sink._scopes.ForEachScope((scope, list) => { if (scope is not null) list.Add(scope); }, scopes);
            sink._entries.Enqueue(new CapturedLog(category, logLevel, formatter(state, exception), exception, scopes, InFlightRequests.Current));
        }
    }
}
