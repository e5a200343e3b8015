using System.Reflection;
using ProtoBuf;

namespace PyAirtable.Contracts.Events;

/// <summary>
/// One domain event as it travels on the event stream (Redis stream <c>pyairtable:events</c>, field <c>envelope</c>)
/// and to webhook receivers: the CloudEvents 1.0 attributes, the platform's extensions, and the event itself in
/// <c>data</c>, encoded as the protobuf message <c>type</c> names (for example <c>pyairtable.events.v1.WorkspaceCreated</c>).
/// </summary>
[ProtoContract]
public sealed record EventEnvelope
{
    /// <summary>CloudEvents <c>id</c>: unique per event (a UUID); consumers deduplicate on it.</summary>
    [ProtoMember(1)] public string Id { get; init; } = "";

    /// <summary>CloudEvents <c>source</c>: the service that wrote the event, e.g. <c>/pyairtable/workspaces</c>.</summary>
    [ProtoMember(2)] public string Source { get; init; } = "";

    /// <summary>CloudEvents <c>type</c>: the full name of the protobuf message in <c>data</c>.</summary>
    [ProtoMember(3)] public string Type { get; init; } = "";

    /// <summary>CloudEvents <c>time</c>: when the change happened (the writing transaction, UTC).</summary>
    [ProtoMember(4)] public DateTime? Time { get; init; }

    /// <summary>CloudEvents <c>subject</c>: the id of the aggregate the event is about (a user, workspace, base, API key).</summary>
    [ProtoMember(5)] public string Subject { get; init; } = "";

    /// <summary>CloudEvents <c>specversion</c>: always <c>1.0</c>.</summary>
    [ProtoMember(6)] public string SpecVersion { get; init; } = "";

    /// <summary>CloudEvents <c>datacontenttype</c>: <c>application/protobuf</c>.</summary>
    [ProtoMember(7)] public string DataContentType { get; init; } = "";

    /// <summary>The event: the protobuf encoding of the message named by <c>type</c>.</summary>
    [ProtoMember(8)] public byte[] Data { get; init; } = [];

    /// <summary>
    /// The event's position on the stream, from 1, without gaps (CloudEvents <c>sequence</c> extension). Events of one
    /// aggregate have increasing sequences in the order their transactions committed.
    /// </summary>
    [ProtoMember(9)] public long Sequence { get; init; }

    /// <summary>The kind of aggregate <c>subject</c> names: <c>user</c>, <c>api_key</c>, <c>workspace</c>, <c>base</c>.</summary>
    [ProtoMember(10)] public string AggregateType { get; init; } = "";

    /// <summary>The workspace the event belongs to, when it belongs to one (empty for account events).</summary>
    [ProtoMember(11)] public string WorkspaceId { get; init; } = "";

    /// <summary>The user who caused the event (empty when the platform did, or the caller was a service).</summary>
    [ProtoMember(12)] public string ActorId { get; init; } = "";

    /// <summary>The x-request-id of the call that caused the event, to join logs and traces.</summary>
    [ProtoMember(13)] public string RequestId { get; init; } = "";
}

/// <summary>
/// A domain event: what happened, as its own contract type (never the request that caused it). The event's type name
/// on the wire comes from the type (<see cref="EventTypes.NameOf(Type)"/>), never from a literal at the publisher.
/// </summary>
public interface IDomainEvent
{
    /// <summary>The id of the aggregate the event is about (the envelope's subject).</summary>
    string Subject { get; }

    /// <summary>The kind of that aggregate.</summary>
    string AggregateType { get; }

    /// <summary>The workspace the event belongs to, or empty.</summary>
    string EventWorkspaceId => "";
}

/// <summary>The event types of the contracts and their names on the wire.</summary>
public static class EventTypes
{
    private const string Package = "pyairtable.events.v1.";

    /// <summary>The wire name of <typeparamref name="TEvent"/>, e.g. <c>pyairtable.events.v1.WorkspaceCreated</c>.</summary>
    public static string NameOf<TEvent>() where TEvent : IDomainEvent => Cache<TEvent>.Name;

    /// <summary>
    /// The wire name of an event type: the full name of its protobuf message (<c>pyairtable.events.v1.X</c> for the
    /// contracts' events; an event type defined elsewhere, e.g. by a test, is named by its .NET full name).
    /// </summary>
    public static string NameOf(Type eventType) => Describe(eventType);

    private static string Describe(Type eventType)
    {
        ArgumentNullException.ThrowIfNull(eventType);
        if (!typeof(IDomainEvent).IsAssignableFrom(eventType) || eventType.GetCustomAttribute<ProtoContractAttribute>() is not { } contract)
        {
            throw new ArgumentException($"{eventType} is not a [ProtoContract] IDomainEvent.", nameof(eventType));
        }

        return eventType.Namespace == typeof(EventTypes).Namespace ? Package + (contract.Name ?? eventType.Name) : eventType.FullName!;
    }

    private static class Cache<TEvent> where TEvent : IDomainEvent
    {
        public static readonly string Name = Describe(typeof(TEvent));
    }
}
