using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace PyAirtable.Host.Gateway;

/// <summary>
/// Runs the health checks once and hands the report to every publisher (the gRPC health service's
/// among them). grpc.health.v1 Check and Watch both serve the published status
/// (UseHealthChecksCache), so they always agree and a Watch never misses a transition; this
/// publishes at moments that cannot wait for the next period: before the host listens (so the
/// first Check already knows every service) and when shutdown begins.
/// </summary>
internal sealed class HealthPublisher(HealthCheckService checks, IEnumerable<IHealthCheckPublisher> publishers)
{
    public async Task PublishNowAsync(CancellationToken cancellationToken)
    {
        var report = await checks.CheckHealthAsync(cancellationToken);
        foreach (var publisher in publishers)
        {
            await publisher.PublishAsync(report, cancellationToken);
        }
    }
}
