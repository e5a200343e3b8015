using PyAirtable.Services.Infrastructure.Health;

namespace PyAirtable.Host.Gateway;

/// <summary>Shutdown settings (section <c>Shutdown</c>).</summary>
internal sealed class ShutdownOptions
{
    /// <summary>
    /// How long the host keeps serving after it starts reporting NOT_SERVING, so load balancers
    /// and Kubernetes stop routing to it before it refuses calls. 0 in development.
    /// </summary>
    public TimeSpan DrainDelay { get; set; } = TimeSpan.Zero;

    /// <summary>How long in-flight calls may take to finish before they are aborted.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(20);
}

/// <summary>
/// On SIGTERM (or any host stop): the shutdown health check turns every gRPC health entry and
/// <c>/readyz</c> NOT_SERVING at once (published immediately), Watch streams get NOT_SERVING
/// and complete (Grpc.AspNetCore.HealthChecks does that), then after the drain delay new calls are
/// refused with UNAVAILABLE while Kestrel lets in-flight calls finish within <see cref="ShutdownOptions.Timeout"/>.
/// Registered after Kestrel's own hosted service, so its StoppingAsync runs before Kestrel stops.
/// </summary>
internal sealed partial class GracefulShutdownService(
    ShutdownState state,
    HealthPublisher health,
    Microsoft.Extensions.Options.IOptions<ShutdownOptions> options,
    TimeProvider time,
    ILogger<GracefulShutdownService> logger) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        var delay = options.Value.DrainDelay;
        LogDraining(logger, delay);
        try
        {
            // The shutdown check fails from now on: publish NOT_SERVING without waiting for the period.
            state.BeginDraining();
            await health.PublishNowAsync(cancellationToken);
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // The shutdown timeout is shorter than the drain: stop draining.
        }
        finally
        {
            // Whatever happened above, new calls are refused from here on.
            state.RefuseCalls();
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutting down: reporting NOT_SERVING, refusing new calls after {DrainDelay}, letting in-flight calls finish")]
    private static partial void LogDraining(ILogger logger, TimeSpan drainDelay);
}
