using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using PyAirtable.Contracts.Health;
using PyAirtable.Services.Infrastructure.Contracts;

namespace PyAirtable.Services.Health;

public static class ServiceCollectionExtensions
{
    /// <summary>Registers <see cref="IHealthService"/>: served here unless <c>Remote:&lt;its [Service] name&gt;</c> is set.</summary>
    public static IServiceCollection AddHealthService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<HealthReportCache>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHealthCheckPublisher, HealthReportCache>(sp => sp.GetRequiredService<HealthReportCache>()));
        services.AddContract<IHealthService, HealthService>(configuration);
        return services;
    }
}
