using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using PyAirtable.Contracts.Analytics;
using PyAirtable.Services.Analytics.Recording;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.Telemetry;

namespace PyAirtable.Services.Analytics;

public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IAnalyticsService"/>: served here unless <c>Remote:&lt;its [Service] name&gt;</c> is set. When
    /// served here, the host also records every call it serves (<see cref="ICallRecorder"/>, unless
    /// <c>Analytics:RecordCalls</c> is false) and runs the roll-ups; a host that binds Analytics remotely records nothing.
    /// </summary>
    public static IServiceCollection AddAnalyticsService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!configuration.IsRemote<IAnalyticsService>())
        {
            services.AddServiceMigrations("analytics", typeof(ServiceCollectionExtensions).Assembly);
            services.AddOptions<AnalyticsOptions>().Bind(configuration.GetSection(AnalyticsOptions.Section));
            services.TryAddSingleton<CallBuffer>();
            services.TryAddSingleton<ICallRecorder>(sp => sp.GetRequiredService<CallBuffer>());
            services.TryAddSingleton<TailHub>();
            services.TryAddSingleton<CallWriter>();
            services.AddHostedService(sp => sp.GetRequiredService<CallWriter>());
            services.TryAddSingleton<RollupRunner>();
            services.AddHostedService(sp => sp.GetRequiredService<RollupRunner>());
        }

        return services.AddContract<IAnalyticsService, AnalyticsService>(configuration);
    }
}
