using System.Text.RegularExpressions;
using Grpc.AspNetCore.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Health;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using HealthStatus = PyAirtable.Contracts.Common.HealthStatus;

namespace PyAirtable.Services.Health;

/// <summary>
/// Serves the published health report per service, using the same service-to-check mapping as
/// grpc.health.v1, so both always agree.
/// </summary>
[Microsoft.AspNetCore.Authorization.AllowAnonymous] // health is public, like grpc.health.v1
public sealed partial class HealthService(
    HealthReportCache cache,
    RemoteCircuitBreakers breakers,
    IOptions<GrpcHealthChecksOptions> grpcHealth,
    IHostApplicationLifetime lifetime) : IHealthService
{
    public const string ServiceName = "pyairtable.health.v1.HealthService";

    public ValueTask<CheckResponse> CheckAsync(CheckRequest request, CallContext context = default)
    {
        var mapping = Resolve(request.Service);
        return ValueTask.FromResult(Snapshot(request.Service, mapping));
    }

    public async IAsyncEnumerable<WatchResponse> WatchAsync(WatchRequest request, CallContext context = default)
    {
        var mapping = Resolve(request.Service);
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        CheckResponse? previous = null;
        while (!ended.IsCancellationRequested)
        {
            var next = cache.NextAsync();
            var current = Snapshot(request.Service, mapping);
            if (previous is null || current.Status != previous.Status || !SameDependencies(current, previous))
            {
                previous = current;
                yield return new WatchResponse { Health = current };
            }

            try
            {
                await next.WaitAsync(ended.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        if (!context.CancellationToken.IsCancellationRequested && lifetime.ApplicationStopping.IsCancellationRequested)
        {
            // As grpc.health.v1 does: tell the watcher the host is going away, then end the stream.
            yield return new WatchResponse { Health = (previous ?? Snapshot(request.Service, mapping)) with { Status = HealthStatus.NotServing } };
        }
    }

    public ValueTask<ListCircuitBreakersResponse> ListCircuitBreakersAsync(ListCircuitBreakersRequest request, CallContext context = default)
    {
        // Which contracts run on other hosts is topology: operators and the platform's services only.
        if (!context.RequireCaller().IsPrivileged())
        {
            Fail.PermissionDenied("Circuit breakers are visible to administrators only.");
        }

        return ValueTask.FromResult(new ListCircuitBreakersResponse { Breakers = [.. breakers.Snapshot()] });
    }

    private ServiceMapping Resolve(string service)
    {
        var validator = new RequestValidator().MaxLength("service", service, 200);
        if (!string.IsNullOrEmpty(service) && service.Length <= 200 && !ServiceNamePattern().IsMatch(service))
        {
            validator.Add("service", "must be a fully qualified service name such as pyairtable.health.v1.HealthService");
        }

        validator.ThrowIfInvalid();
        var mapping = grpcHealth.Value.Services.FirstOrDefault(m => string.Equals(m.Name, service, StringComparison.Ordinal));
        if (mapping is null)
        {
            Fail.NotFound("service", service);
        }

        return mapping;
    }

    private CheckResponse Snapshot(string service, ServiceMapping mapping)
    {
        if (cache.Last is not { } last)
        {
            return new CheckResponse { Service = service, Status = HealthStatus.ServiceUnknown };
        }

        var dependencies = last.Report.Entries
            .Where(e => mapping.HealthCheckPredicate?.Invoke(new HealthCheckMapContext(e.Key, e.Value.Tags)) ?? true)
            .OrderBy(e => e.Key, StringComparer.Ordinal)
            .Select(e => new DependencyHealth
            {
                Name = e.Key,
                Status = e.Value.Status == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy ? HealthStatus.NotServing : HealthStatus.Serving,
                Description = e.Value.Status == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy ? "" : e.Value.Description ?? "",
                Duration = e.Value.Duration,
                Degraded = e.Value.Status == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded,
            })
            .ToList();
        return new CheckResponse
        {
            Service = service,
            Status = dependencies.Count == 0 ? HealthStatus.ServiceUnknown
                : dependencies.All(d => d.Status == HealthStatus.Serving) ? HealthStatus.Serving : HealthStatus.NotServing,
            Dependencies = dependencies,
            CheckedAt = last.At,
            Degraded = dependencies.Any(d => d.Degraded),
        };
    }

    private static bool SameDependencies(CheckResponse a, CheckResponse b) =>
        a.Dependencies.Select(d => (d.Name, d.Status, d.Degraded)).SequenceEqual(b.Dependencies.Select(d => (d.Name, d.Status, d.Degraded)));

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$")]
    private static partial Regex ServiceNamePattern();
}
