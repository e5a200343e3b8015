using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;

namespace PyAirtable.Services.Permissions;

public static class ServiceCollectionExtensions
{
    /// <summary>Registers pyairtable.permissions.v1.PermissionService (served here unless <c>Remote:pyairtable.permissions.v1.PermissionService</c> is set).</summary>
    public static IServiceCollection AddPermissionService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (string.IsNullOrWhiteSpace(configuration[$"{ContractBindingExtensions.RemoteSection}:pyairtable.permissions.v1.PermissionService"]))
        {
            services.AddServiceMigrations("permissions", typeof(ServiceCollectionExtensions).Assembly);
            services.TryAddSingleton(sp => PermissionDatabase.Create(sp.GetRequiredService<Npgsql.NpgsqlDataSource>(),
                configuration.GetConnectionString(PyAirtable.Services.Infrastructure.ServiceCollectionExtensions.PostgresConnectionName)!,
                sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<PyAirtable.Services.Infrastructure.Database.DatabaseOptions>>().Value));
        }

        return services.AddContract<IPermissionService, PermissionService>(configuration);
    }
}
