using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.Contracts.Users;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.SharedState;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace PyAirtable.Services.Users;

public static class ServiceCollectionExtensions
{
    /// <summary>Registers <see cref="IUserService"/>: served here unless <c>Remote:&lt;its [Service] name&gt;</c> is set.</summary>
    public static IServiceCollection AddUserService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!configuration.IsRemote<IUserService>())
        {
            services.AddOptions<UserServiceOptions>().Bind(configuration.GetSection("Users"));
            services.AddServiceMigrations("users", typeof(ServiceCollectionExtensions).Assembly);
            services.TryAddSingleton<ProfileMemory>();
            services.AddSingleton<IChangeFollower>(sp => sp.GetRequiredService<ProfileMemory>());
        }

        return services.AddContract<IUserService, UserService>(configuration);
    }
}
