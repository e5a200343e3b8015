using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using PyAirtable.Contracts.Auth;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Auth.Mail;
using PyAirtable.Services.Infrastructure.Events;
using TokenOptions = PyAirtable.Services.Infrastructure.Identity.TokenOptions;

namespace PyAirtable.Services.Auth;

public static class ServiceCollectionExtensions
{
    /// <summary>Registers <see cref="IAuthService"/>: served here unless <c>Remote:&lt;its [Service] name&gt;</c> is set.</summary>
    public static IServiceCollection AddAuthService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<TokenOptions>().Bind(configuration.GetSection(TokenOptions.Section));
        if (configuration.IsRemote<IAuthService>())
        {
            return services.AddContract<IAuthService, AuthService>(configuration);
        }

        // Only where Auth is served: its keys are made here. A remote Auth's gateway verifies whatever its JWKS publishes.
        services.AddOptions<TokenOptions>()
            .Validate(o => TokenOptions.SupportedAlgorithms.Contains(o.SigningAlgorithm, StringComparer.Ordinal),
                $"Auth:SigningAlgorithm must be one of {string.Join(", ", TokenOptions.SupportedAlgorithms)}.")
            .ValidateOnStart();
        services.AddOptions<LockoutOptions>().Bind(configuration.GetSection(TokenOptions.Section + ":Lockout"));
        services.AddServiceMigrations("auth", typeof(ServiceCollectionExtensions).Assembly);
        // Where Auth's schema is served, a UserDeactivated disables the account; hosts serving Auth share the work.
        services.AddEventConsumer<AccountEvents>(AccountEvents.ConsumerName);
        services.TryAddSingleton<IPasswordHasher<AuthService.Account>, PasswordHasher<AuthService.Account>>();
        services.TryAddSingleton<SigningKeyStore>();
        services.TryAddSingleton<TokenService>();
        services.TryAddSingleton<ServiceTokenIssuer>();
        services.TryAddSingleton<IServiceTokenIssuer>(sp => sp.GetRequiredService<ServiceTokenIssuer>());
        services.TryAddSingleton<ServiceIdentity>();
        services.AddMail(configuration);
        services.AddOptions<EmailVerificationOptions>().Bind(configuration.GetSection(TokenOptions.Section + ":EmailVerification"));
        services.TryAddSingleton<LoginThrottle>();
        services.TryAddSingleton(sp => new AuthService(
            sp.GetRequiredService<Npgsql.NpgsqlDataSource>(), sp.GetRequiredService<TokenService>(), sp.GetRequiredService<SigningKeyStore>(),
            sp.GetRequiredService<LoginThrottle>(), sp.GetRequiredService<ServiceIdentity>(), sp.GetRequiredService<PyAirtable.Contracts.Users.IUserService>(),
            sp.GetRequiredService<PyAirtable.Services.Infrastructure.SharedState.RevocationList>(), sp.GetRequiredService<PyAirtable.Services.Infrastructure.Pagination.CursorCodec>(),
            sp.GetRequiredService<IPasswordHasher<AuthService.Account>>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<EmailVerification>()));
        services.TryAddSingleton<EmailVerification>();
        return services.AddContract<IAuthService, AuthService>(configuration);
    }
}
