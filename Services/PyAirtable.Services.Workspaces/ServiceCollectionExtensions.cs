using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;

namespace PyAirtable.Services.Workspaces;

public static class ServiceCollectionExtensions
{
    /// <summary>Registers <see cref="IWorkspaceService"/>: served here unless <c>Remote:&lt;its [Service] name&gt;</c> is set.</summary>
    public static IServiceCollection AddWorkspaceService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!configuration.IsRemote<IWorkspaceService>())
        {
            services.AddServiceMigrations("workspaces", typeof(ServiceCollectionExtensions).Assembly);
            services.TryAddSingleton<WorkspaceMemory>();
            services.AddSingleton<PyAirtable.Services.Infrastructure.SharedState.IChangeFollower>(sp => sp.GetRequiredService<WorkspaceMemory>());
        }

        return services.AddContract<IWorkspaceService, WorkspaceService>(configuration);
    }
}
