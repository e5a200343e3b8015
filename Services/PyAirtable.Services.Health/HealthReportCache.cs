using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace PyAirtable.Services.Health;

/// <summary>
/// Keeps the last published health report (the same one grpc.health.v1 serves) and tells
/// watchers when a new one arrives.
/// </summary>
public sealed class HealthReportCache : IHealthCheckPublisher
{
    private readonly Lock _gate = new();
    private (HealthReport Report, DateTime At)? _last;
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public (HealthReport Report, DateTime At)? Last
    {
        get
        {
            lock (_gate)
            {
                return _last;
            }
        }
    }

    /// <summary>Completes when the next report is published.</summary>
    public Task NextAsync()
    {
        lock (_gate)
        {
            return _next.Task;
        }
    }

    public Task PublishAsync(HealthReport report, CancellationToken cancellationToken)
    {
        TaskCompletionSource published;
        lock (_gate)
        {
            _last = (report, DateTime.UtcNow);
            published = _next;
            _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        published.TrySetResult();
        return Task.CompletedTask;
    }
}
