using System.Reflection;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using PyAirtable.Contracts.Events;

namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>
/// Handles one event type for a consumer. A consumer class implements this once per event type it wants and is
/// registered with <see cref="EventConsumerExtensions.AddEventConsumer{TConsumer}"/>; it receives nothing else.
/// Delivery is at least once, in order per aggregate: make effects idempotent, for effects in PostgreSQL with
/// <see cref="EventContext.FirstDeliveryAsync"/> in the effect's transaction. Events of different partitions are handled
/// side by side: the consumer (a singleton) must be safe to call concurrently.
/// </summary>
public interface IEventConsumer<in TEvent> where TEvent : IDomainEvent
{
    Task HandleAsync(TEvent domainEvent, EventContext context, CancellationToken cancellationToken);
}

/// <summary>
/// Receives every event on the stream, whatever its type (also types added after the consumer was written), as its
/// envelope: for consumers that forward events rather than act on their contents (webhooks). Same delivery rules as
/// <see cref="IEventConsumer{TEvent}"/>; a class implementing this gets no typed calls.
/// </summary>
public interface IEventStreamConsumer
{
    Task HandleAsync(EventEnvelope envelope, EventContext context, CancellationToken cancellationToken);
}

/// <summary>What a handler knows about the event beyond its data.</summary>
public sealed class EventContext(EventEnvelope envelope, string consumer, int attempt)
{
    /// <summary>The CloudEvents attributes and the stream position.</summary>
    public EventEnvelope Envelope { get; } = envelope;

    /// <summary>The consumer's name (its consumer group).</summary>
    public string Consumer { get; } = consumer;

    /// <summary>1 on the first try of this delivery, then 2, 3… while it fails.</summary>
    public int Attempt { get; } = attempt;

    /// <summary>
    /// Records, inside <paramref name="transaction"/>, that this consumer handled the event. False when it already had (a
    /// redelivery after a crash or takeover): then change nothing. Committed with the effect, this makes the effect
    /// happen exactly once.
    /// </summary>
    public async Task<bool> FirstDeliveryAsync(NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        return await transaction.Connection!.ExecuteAsync(new CommandDefinition(
            "INSERT INTO platform.event_handled (consumer, event_id) VALUES (@consumer, @eventId) ON CONFLICT DO NOTHING",
            new { consumer = Consumer, eventId = Guid.Parse(Envelope.Id) }, transaction, cancellationToken: cancellationToken)) == 1;
    }
}

/// <summary>A registered consumer: its name (consumer group), where a new one starts, and the event types it handles.</summary>
public sealed class EventConsumerRegistration
{
    private readonly bool _everything;
    private readonly Dictionary<string, (Type EventType, Func<object, object, EventContext, CancellationToken, Task> Invoke)> _handlers;

    internal EventConsumerRegistration(string name, Type consumerType)
    {
        Name = name;
        ConsumerType = consumerType;
        _everything = typeof(IEventStreamConsumer).IsAssignableFrom(consumerType);
        _handlers = consumerType.GetInterfaces()
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEventConsumer<>))
            .Select(i => i.GetGenericArguments()[0])
            .ToDictionary(PyAirtable.Contracts.Events.EventTypes.NameOf, t => (t, Bind(t)), StringComparer.Ordinal);
        if (_handlers.Count == 0 && !_everything)
        {
            throw new ArgumentException($"{consumerType} implements no IEventConsumer<TEvent> (nor IEventStreamConsumer).", nameof(consumerType));
        }
    }

    public string Name { get; }

    public Type ConsumerType { get; }

    /// <summary>Delivers an envelope to the consumer; false when it does not handle that type (nothing to do).</summary>
    internal async Task<bool> DispatchAsync(object consumer, EventEnvelope envelope, EventContext context, CancellationToken cancellationToken)
    {
        if (_everything)
        {
            await ((IEventStreamConsumer)consumer).HandleAsync(envelope, context, cancellationToken);
            return true;
        }

        if (!_handlers.TryGetValue(envelope.Type, out var handler))
        {
            return false;
        }

        var data = ProtoBuf.Meta.RuntimeTypeModel.Default.Deserialize(handler.EventType, new ReadOnlyMemory<byte>(envelope.Data));
        await handler.Invoke(consumer, data, context, cancellationToken);
        return true;
    }

    private static Func<object, object, EventContext, CancellationToken, Task> Bind(Type eventType) =>
        typeof(EventConsumerRegistration).GetMethod(nameof(Invoke), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(eventType)
            .CreateDelegate<Func<object, object, EventContext, CancellationToken, Task>>();

    private static Task Invoke<TEvent>(object consumer, object data, EventContext context, CancellationToken cancellationToken)
        where TEvent : IDomainEvent =>
        ((IEventConsumer<TEvent>)consumer).HandleAsync((TEvent)data, context, cancellationToken);
}

public static class EventConsumerExtensions
{
    /// <summary>
    /// Subscribes <typeparamref name="TConsumer"/> (a singleton) to the event stream as consumer group <paramref name="name"/>:
    /// every host that registers it shares the work, each event handled by one of them. A new consumer starts from the
    /// oldest event still kept (nothing committed is skipped).
    /// </summary>
    public static IServiceCollection AddEventConsumer<TConsumer>(this IServiceCollection services, string name) where TConsumer : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_')))
        {
            throw new ArgumentException("A consumer name uses letters, digits, '.', '-' and '_' only.", nameof(name));
        }

        if (services.Any(d => d.ServiceType == typeof(EventConsumerRegistration) && d.ImplementationInstance is EventConsumerRegistration r && r.Name == name))
        {
            return services;
        }

        services.TryAddSingleton<TConsumer>();
        services.AddSingleton(new EventConsumerRegistration(name, typeof(TConsumer)));
        return services;
    }
}
