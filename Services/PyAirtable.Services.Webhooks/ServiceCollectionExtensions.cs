using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using PyAirtable.Contracts.Webhooks;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Webhooks.Outbound;

namespace PyAirtable.Services.Webhooks;

public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IWebhookService"/>: served here unless <c>Remote:&lt;its [Service] name&gt;</c> is set. Where it is
    /// served, the host also forwards events to webhooks (consumer <c>webhooks.forward</c>) and sends deliveries; hosts
    /// serving it share both.
    /// </summary>
    public static IServiceCollection AddWebhookService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (configuration.IsRemote<IWebhookService>())
        {
            return services.AddContract<IWebhookService, WebhookService>(configuration);
        }

        services.AddServiceMigrations("webhooks", typeof(ServiceCollectionExtensions).Assembly);
        services.AddOptions<WebhookOptions>().Bind(configuration.GetSection(WebhookOptions.Section))
            .Validate(o => o.LeaseDuration > o.Timeout, "Webhooks:LeaseDuration must exceed Webhooks:Timeout.")
            .Validate(o => o.MaxConcurrency > 0 && o.MaxConnectionsPerEndpoint > 0,
                "Webhooks:MaxConcurrency and MaxConnectionsPerEndpoint must be positive.")
            .ValidateOnStart();
        services.TryAddSingleton<AddressPolicy>();
        services.TryAddSingleton<GuardedHttp>();
        services.TryAddSingleton<WebhookSecrets>();
        services.TryAddSingleton<DeliveryWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<DeliveryWorker>());
        services.AddEventConsumer<WebhookForwarder>(WebhookForwarder.ConsumerName);
        return services.AddContract<IWebhookService, WebhookService>(configuration);
    }
}
