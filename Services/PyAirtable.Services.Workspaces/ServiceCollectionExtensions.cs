using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;

namespace PyAirtable.Services.Workspaces;

public static class ServiceCollectionExtensions
{
    /// <summary>Registers pyairtable.workspaces.v1.WorkspaceService (served here unless <c>Remote:pyairtable.workspaces.v1.WorkspaceService</c> is set).</summary>
    public static IServiceCollection AddWorkspaceService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (string.IsNullOrWhiteSpace(configuration[$"{ContractBindingExtensions.RemoteSection}:pyairtable.workspaces.v1.WorkspaceService"]))
        {
            services.AddServiceMigrations("workspaces", typeof(ServiceCollectionExtensions).Assembly);
        }

        return services.AddContract<IWorkspaceService, WorkspaceService>(configuration);
    }
}
