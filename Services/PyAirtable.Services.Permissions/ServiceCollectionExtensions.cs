using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.Services.Permissions;

public static class ServiceCollectionExtensions
{
    /// <summary>Registers <see cref="IPermissionService"/>: served here unless <c>Remote:&lt;its [Service] name&gt;</c> is set.</summary>
    public static IServiceCollection AddPermissionService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!configuration.IsRemote<IPermissionService>())
        {
            services.AddServiceMigrations("permissions", typeof(ServiceCollectionExtensions).Assembly);
            services.TryAddSingleton(sp => PermissionDatabase.Create(sp.GetRequiredService<Npgsql.NpgsqlDataSource>(),
                configuration.GetConnectionString(PyAirtable.Services.Infrastructure.ServiceCollectionExtensions.PostgresConnectionName)!,
                sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<PyAirtable.Services.Infrastructure.Database.DatabaseOptions>>().Value,
                sp.GetRequiredService<ChangeFeed>()));
            services.TryAddSingleton<PermissionDecisionCache>();
            services.AddSingleton<IChangeFollower>(sp => sp.GetRequiredService<PermissionDecisionCache>());
        }

        return services.AddContract<IPermissionService, PermissionService>(configuration);
    }
}
