using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using PyAirtable.Contracts.Notifications;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.Events;

namespace PyAirtable.Services.Notifications;

public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="INotificationService"/>: served here unless <c>Remote:&lt;its [Service] name&gt;</c> is set. Where it is
    /// served, the host also fans events out into feeds (consumer <c>notifications.fanout</c>, shared by the hosts serving it)
    /// and subscribes once to the feed signals.
    /// </summary>
    public static IServiceCollection AddNotificationService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (configuration.IsRemote<INotificationService>())
        {
            return services.AddContract<INotificationService, NotificationService>(configuration);
        }

        services.AddServiceMigrations("notifications", typeof(ServiceCollectionExtensions).Assembly);
        services.AddOptions<NotificationOptions>().Bind(configuration.GetSection(NotificationOptions.Section))
            .Validate(o => o.MaxPerUser > 0 && o.HeartbeatInterval > TimeSpan.Zero && o.PollInterval > TimeSpan.Zero,
                "Notifications:MaxPerUser, HeartbeatInterval and PollInterval must be positive.")
            .ValidateOnStart();
        services.TryAddSingleton<FeedSignals>();
        services.AddHostedService(sp => sp.GetRequiredService<FeedSignals>());
        services.AddEventConsumer<NotificationFanout>(NotificationFanout.ConsumerName);
        return services.AddContract<INotificationService, NotificationService>(configuration);
    }
}
