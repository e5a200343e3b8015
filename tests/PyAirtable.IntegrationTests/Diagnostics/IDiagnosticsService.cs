using ProtoBuf.Grpc.Configuration;
using ProtoBuf;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Common;

[module: CompatibilityLevel(CompatibilityLevel.Level300)]

namespace PyAirtable.IntegrationTests.Diagnostics;

/// <summary>
/// A service that exists only in tests: it exercises the gateway pipeline and the shared
/// infrastructure the way a real service would (metadata, errors, database, outbox, cursors).
/// </summary>
[Service("pyairtable.testing.v1.DiagnosticsService")]
public interface IDiagnosticsService
{
    ValueTask<EchoResponse> EchoAsync(EchoRequest request, CallContext context = default);

    ValueTask<FailResponse> FailAsync(FailRequest request, CallContext context = default);

    ValueTask<SleepResponse> SleepAsync(SleepRequest request, CallContext context = default);

    IAsyncEnumerable<EchoResponse> StreamAsync(StreamRequest request, CallContext context = default);

    ValueTask<RecordEventResponse> RecordEventAsync(RecordEventRequest request, CallContext context = default);

    ValueTask<ListItemsResponse> ListItemsAsync(ListItemsRequest request, CallContext context = default);

    /// <summary>A read by its name (retried by remote bindings): UNAVAILABLE for the first <c>failures</c> calls of a key.</summary>
    ValueTask<FlakyResponse> GetFlakyAsync(FlakyRequest request, CallContext context = default);

    /// <summary>The same, named as a write: remote bindings must not retry it.</summary>
    ValueTask<FlakyResponse> RecordFlakyAsync(FlakyRequest request, CallContext context = default);
}

[ProtoContract]
public sealed record FlakyRequest
{
    [ProtoMember(1)] public string Key { get; init; } = "";
    [ProtoMember(2)] public int Failures { get; init; }
}

[ProtoContract]
public sealed record FlakyResponse
{
    /// <summary>How many calls of the key the service saw, this one included.</summary>
    [ProtoMember(1)] public int Attempts { get; init; }
}

[ProtoContract]
public sealed record EchoRequest
{
    [ProtoMember(1)] public string Text { get; init; } = "";
    /// <summary>Names a base, so the gateway's per-base rate limit applies (RateLimitTests).</summary>
    [ProtoMember(2)] public string BaseId { get; init; } = "";
}

[ProtoContract]
public sealed record EchoResponse
{
    [ProtoMember(1)] public string Text { get; init; } = "";
    [ProtoMember(2)] public RequestMetadata? Metadata { get; init; }
}

public enum FailureKind
{
    Unspecified = 0,
    Bug = 1,
    NotFound = 2,
    Validation = 3,
    UniqueViolation = 4,
}

[ProtoContract]
public sealed record FailRequest
{
    [ProtoMember(1)] public FailureKind Kind { get; init; }
    [ProtoMember(2)] public string Secret { get; init; } = "";
}

[ProtoContract]
public sealed record FailResponse;

[ProtoContract]
public sealed record SleepRequest
{
    [ProtoMember(1)] public double Seconds { get; init; }
    [ProtoMember(2)] public string Marker { get; init; } = "";
    /// <summary>Sleep in .NET rather than in PostgreSQL.</summary>
    [ProtoMember(3)] public bool InProcess { get; init; }
}

[ProtoContract]
public sealed record SleepResponse
{
    [ProtoMember(1)] public bool Completed { get; init; }
}

[ProtoContract]
public sealed record StreamRequest
{
    [ProtoMember(1)] public int Count { get; init; }
    /// <summary>Throw an unexpected exception after this many items (0: never).</summary>
    [ProtoMember(2)] public int FailAfter { get; init; }
}

[ProtoContract]
public sealed record RecordEventRequest
{
    [ProtoMember(1)] public string Name { get; init; } = "";
    /// <summary>Roll the transaction back after writing the item and its event.</summary>
    [ProtoMember(2)] public bool Rollback { get; init; }
}

[ProtoContract]
public sealed record RecordEventResponse
{
    [ProtoMember(1)] public long ItemId { get; init; }
    [ProtoMember(2)] public string EventId { get; init; } = "";
}

[ProtoContract]
public sealed record ItemCreated : PyAirtable.Contracts.Events.IDomainEvent
{
    [ProtoMember(1)] public long ItemId { get; init; }
    [ProtoMember(2)] public string Name { get; init; } = "";

    /// <summary>The aggregate the event is about; the item itself when empty.</summary>
    [ProtoMember(3)] public string Aggregate { get; init; } = "";

    string PyAirtable.Contracts.Events.IDomainEvent.Subject =>
        Aggregate.Length > 0 ? Aggregate : ItemId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    string PyAirtable.Contracts.Events.IDomainEvent.AggregateType => "item";
}

[ProtoContract]
public sealed record ListItemsRequest
{
    [ProtoMember(1)] public PaginationRequest? Pagination { get; init; }
    /// <summary>Only names starting with this; part of the cursor's scope.</summary>
    [ProtoMember(2)] public string Prefix { get; init; } = "";
}

[ProtoContract]
public sealed record ListItemsResponse
{
    [ProtoMember(1)] public List<Item> Items { get; init; } = [];
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
}

[ProtoContract]
public sealed record Item
{
    [ProtoMember(1)] public long Id { get; init; }
    [ProtoMember(2)] public string Name { get; init; } = "";
}
