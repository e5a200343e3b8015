using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ProtoBuf;
using PyAirtable.Contracts.Events;

namespace PyAirtable.Services.Webhooks.Outbound;

/// <summary>
/// The event types of the contracts (every <c>[ProtoContract]</c> <see cref="IDomainEvent"/> of
/// <c>pyairtable.events.v1</c>, so types added later are known without a change here), and the CloudEvents JSON body
/// of a delivery.
/// </summary>
public static class EventCatalog
{
    private static readonly Dictionary<string, Type> Types = typeof(IDomainEvent).Assembly.GetTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IDomainEvent).IsAssignableFrom(t)
            && t.Namespace == typeof(IDomainEvent).Namespace && t.GetCustomAttribute<ProtoContractAttribute>() is not null)
        .ToDictionary(EventTypes.NameOf, StringComparer.Ordinal);

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The wire names webhooks may filter on.</summary>
    public static IReadOnlyCollection<string> Names => Types.Keys;

    public static bool IsKnown(string name) => Types.ContainsKey(name);

    /// <summary>The event in the envelope, or null when its type is not one of the contracts' (an event type of a test).</summary>
    public static object? Decode(EventEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        return Types.TryGetValue(envelope.Type, out var type)
            ? ProtoBuf.Meta.RuntimeTypeModel.Default.Deserialize(type, new ReadOnlyMemory<byte>(envelope.Data))
            : null;
    }

    /// <summary>The bases an event is about: its subject when it is a base, and a <c>BaseId</c> field of its data.</summary>
    public static Guid[] BasesOf(EventEnvelope envelope, object? data)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var bases = new List<Guid>(2);
        if (envelope.AggregateType == "base" && Guid.TryParse(envelope.Subject, out var subject))
        {
            bases.Add(subject);
        }

        if (data?.GetType().GetProperty("BaseId")?.GetValue(data) is string text && Guid.TryParse(text, out var field) && !bases.Contains(field))
        {
            bases.Add(field);
        }

        return [.. bases];
    }

    /// <summary>
    /// The body of a delivery: a CloudEvents 1.0 event in structured JSON mode, <c>data</c> the event's fields as JSON
    /// (lowerCamelCase, enums by name); an event of a type the catalog does not know travels as <c>data_base64</c> (protobuf).
    /// </summary>
    public static string Render(EventEnvelope envelope, object? data)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var body = new JsonObject
        {
            ["specversion"] = "1.0",
            ["id"] = envelope.Id,
            ["source"] = envelope.Source,
            ["type"] = envelope.Type,
            ["subject"] = envelope.Subject,
            ["time"] = envelope.Time is { } time
                ? DateTime.SpecifyKind(time, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)
                : null,
            ["datacontenttype"] = data is null ? "application/protobuf" : "application/json",
            ["sequence"] = envelope.Sequence.ToString(CultureInfo.InvariantCulture),
            ["workspaceid"] = envelope.WorkspaceId,
            ["actorid"] = envelope.ActorId,
        };
        if (data is null)
        {
            body["data_base64"] = Convert.ToBase64String(envelope.Data);
        }
        else
        {
            body["data"] = JsonSerializer.SerializeToNode(data, data.GetType(), Json);
        }

        return body.ToJsonString();
    }
}
