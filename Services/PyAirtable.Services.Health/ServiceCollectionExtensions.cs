using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using PyAirtable.Services.Infrastructure;

namespace PyAirtable.Services.Health;

public static class ServiceCollectionExtensions
{
    /// <summary>Registers pyairtable.health.v1.HealthService (map it with <c>MapGrpcService&lt;HealthService&gt;()</c>).</summary>
    public static IServiceCollection AddHealthService(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<HealthReportCache>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHealthCheckPublisher, HealthReportCache>(sp => sp.GetRequiredService<HealthReportCache>()));
        services.TryAddSingleton<HealthService>();
        services.AddGrpcServiceHealth(HealthService.ServiceName);
        return services;
    }
}
