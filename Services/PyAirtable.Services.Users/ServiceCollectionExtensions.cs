using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.Contracts.Users;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.SharedState;
using Microsoft.Extensions.DependencyInjection.Extensions;
using PyAirtable.Services.Users.V2;
using UsersV2 = PyAirtable.Contracts.Users.V2;

namespace PyAirtable.Services.Users;

public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IUserService"/>: served here unless <c>Remote:&lt;its [Service] name&gt;</c> is set; and its
    /// successor <c>pyairtable.users.v2.UserService</c> (<see cref="UserServiceV2"/>, an adapter onto the same
    /// implementation) wherever v1 is served, or on the host <c>Remote:pyairtable.users.v2.UserService</c> names.
    /// </summary>
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

        services.AddContract<IUserService, UserService>(configuration);
        var v2Remote = !string.IsNullOrWhiteSpace(
            configuration[$"{ContractBindingExtensions.RemoteSection}:{ContractBindingExtensions.ServiceNameOf<UsersV2.IUserService>()}"]);
        if ((!configuration.IsRemote<IUserService>() && !configuration.IsRemote<UsersV2.IUserService>()) || v2Remote)
        {
            services.AddContract<UsersV2.IUserService, UserServiceV2>(configuration);
        }

        return services;
    }
}
