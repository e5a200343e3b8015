using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace PyAirtable.Host.Gateway;

/// <summary>
/// Logs each health check when its status changes (once), instead of the health check service's
/// own error line on every run while a dependency is down.
/// </summary>
internal sealed partial class HealthTransitionLogger(ILogger<HealthTransitionLogger> logger) : IHealthCheckPublisher
{
    private readonly Dictionary<string, HealthStatus> _last = [];
    private readonly Lock _gate = new();

    public Task PublishAsync(HealthReport report, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            foreach (var (name, entry) in report.Entries)
            {
                var known = _last.TryGetValue(name, out var previous);
                _last[name] = entry.Status;
                if (known ? previous == entry.Status : entry.Status == HealthStatus.Healthy)
                {
                    continue;
                }

                if (entry.Status == HealthStatus.Healthy)
                {
                    LogRecovered(logger, name);
                }
                else
                {
                    LogDegraded(logger, entry.Exception, name, entry.Status, entry.Description);
                }
            }
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Health check {Check} is {Status}: {Description}")]
    private static partial void LogDegraded(ILogger logger, Exception? exception, string check, HealthStatus status, string? description);

    [LoggerMessage(Level = LogLevel.Information, Message = "Health check {Check} is healthy again")]
    private static partial void LogRecovered(ILogger logger, string check);
}
