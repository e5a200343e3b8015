// Gate fixtures: a baseline contract and variants of it (each in its own namespace, all in the
// proto package pyairtable.demo.v1). GateTests exports each with the real exporter and asks the
// real gate (buf breaking) whether the variant may follow the baseline.
#pragma warning disable CA1711, CA1720, IDE0130
using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;

// The contracts' wire format (as in PyAirtable.Contracts); the exporter refuses others.
[module: CompatibilityLevel(CompatibilityLevel.Level300)]

namespace PyAirtable.UnitTests.Gate.Baseline.Contracts.Demo
{
    [Service("pyairtable.demo.v1.DemoService")]
    public interface IDemoService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
        IAsyncEnumerable<StreamThingsResponse> StreamThingsAsync(StreamThingsRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record GetThingResponse
    {
        [ProtoMember(1)] public string Id { get; init; } = "";
        [ProtoMember(2)] public int Count { get; init; }
        [ProtoMember(3)] public string Name { get; init; } = "";
    }
    [ProtoContract] public sealed record StreamThingsRequest { [ProtoMember(1)] public int Limit { get; init; } }
    [ProtoContract] public sealed record StreamThingsResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

// The baseline's next version beside it (package pyairtable.demo.v2): a wire break of v1 made the way the gate asks.
namespace PyAirtable.UnitTests.Gate.Baseline.Contracts.Demo.V2
{
    [Service("pyairtable.demo.v2.DemoService")]
    public interface IDemoService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public long Id { get; init; } }
    [ProtoContract] public sealed record GetThingResponse
    {
        [ProtoMember(1)] public long Id { get; init; }
        [ProtoMember(2)] public Demo.GetThingResponse? Legacy { get; init; }
    }
}

namespace PyAirtable.UnitTests.Gate.RenumberedField.Contracts.Demo
{
    [Service("pyairtable.demo.v1.DemoService")]
    public interface IDemoService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
        IAsyncEnumerable<StreamThingsResponse> StreamThingsAsync(StreamThingsRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record GetThingResponse
    {
        [ProtoMember(1)] public string Id { get; init; } = "";
        [ProtoMember(2)] public int Count { get; init; }
        [ProtoMember(4)] public string Name { get; init; } = "";
    }
    [ProtoContract] public sealed record StreamThingsRequest { [ProtoMember(1)] public int Limit { get; init; } }
    [ProtoContract] public sealed record StreamThingsResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

namespace PyAirtable.UnitTests.Gate.ChangedFieldType.Contracts.Demo
{
    [Service("pyairtable.demo.v1.DemoService")]
    public interface IDemoService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
        IAsyncEnumerable<StreamThingsResponse> StreamThingsAsync(StreamThingsRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record GetThingResponse
    {
        [ProtoMember(1)] public int Id { get; init; }
        [ProtoMember(2)] public int Count { get; init; }
        [ProtoMember(3)] public string Name { get; init; } = "";
    }
    [ProtoContract] public sealed record StreamThingsRequest { [ProtoMember(1)] public int Limit { get; init; } }
    [ProtoContract] public sealed record StreamThingsResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

namespace PyAirtable.UnitTests.Gate.DeletedField.Contracts.Demo
{
    [Service("pyairtable.demo.v1.DemoService")]
    public interface IDemoService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
        IAsyncEnumerable<StreamThingsResponse> StreamThingsAsync(StreamThingsRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record GetThingResponse
    {
        [ProtoMember(1)] public string Id { get; init; } = "";
        [ProtoMember(2)] public int Count { get; init; }
    }
    [ProtoContract] public sealed record StreamThingsRequest { [ProtoMember(1)] public int Limit { get; init; } }
    [ProtoContract] public sealed record StreamThingsResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

namespace PyAirtable.UnitTests.Gate.DeletedRpc.Contracts.Demo
{
    [Service("pyairtable.demo.v1.DemoService")]
    public interface IDemoService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record GetThingResponse
    {
        [ProtoMember(1)] public string Id { get; init; } = "";
        [ProtoMember(2)] public int Count { get; init; }
        [ProtoMember(3)] public string Name { get; init; } = "";
    }
    [ProtoContract] public sealed record StreamThingsRequest { [ProtoMember(1)] public int Limit { get; init; } }
    [ProtoContract] public sealed record StreamThingsResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

namespace PyAirtable.UnitTests.Gate.ChangedStreamingKind.Contracts.Demo
{
    [Service("pyairtable.demo.v1.DemoService")]
    public interface IDemoService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
        ValueTask<StreamThingsResponse> StreamThingsAsync(StreamThingsRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record GetThingResponse
    {
        [ProtoMember(1)] public string Id { get; init; } = "";
        [ProtoMember(2)] public int Count { get; init; }
        [ProtoMember(3)] public string Name { get; init; } = "";
    }
    [ProtoContract] public sealed record StreamThingsRequest { [ProtoMember(1)] public int Limit { get; init; } }
    [ProtoContract] public sealed record StreamThingsResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

namespace PyAirtable.UnitTests.Gate.AddedField.Contracts.Demo
{
    [Service("pyairtable.demo.v1.DemoService")]
    public interface IDemoService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
        IAsyncEnumerable<StreamThingsResponse> StreamThingsAsync(StreamThingsRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record GetThingResponse
    {
        [ProtoMember(1)] public string Id { get; init; } = "";
        [ProtoMember(2)] public int Count { get; init; }
        [ProtoMember(3)] public string Name { get; init; } = "";
        [ProtoMember(4)] public string Description { get; init; } = "";
    }
    [ProtoContract] public sealed record StreamThingsRequest { [ProtoMember(1)] public int Limit { get; init; } }
    [ProtoContract] public sealed record StreamThingsResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

namespace PyAirtable.UnitTests.Gate.AddedRpc.Contracts.Demo
{
    [Service("pyairtable.demo.v1.DemoService")]
    public interface IDemoService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
        IAsyncEnumerable<StreamThingsResponse> StreamThingsAsync(StreamThingsRequest request, CallContext context = default);
        ValueTask<DeleteThingResponse> DeleteThingAsync(DeleteThingRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record GetThingResponse
    {
        [ProtoMember(1)] public string Id { get; init; } = "";
        [ProtoMember(2)] public int Count { get; init; }
        [ProtoMember(3)] public string Name { get; init; } = "";
    }
    [ProtoContract] public sealed record StreamThingsRequest { [ProtoMember(1)] public int Limit { get; init; } }
    [ProtoContract] public sealed record StreamThingsResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record DeleteThingRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record DeleteThingResponse;
}

namespace PyAirtable.UnitTests.Gate.DeletedFieldReserved.Contracts.Demo
{
    [Service("pyairtable.demo.v1.DemoService")]
    public interface IDemoService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
        IAsyncEnumerable<StreamThingsResponse> StreamThingsAsync(StreamThingsRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] [ProtoReserved(3), ProtoReserved("name")] public sealed record GetThingResponse
    {
        [ProtoMember(1)] public string Id { get; init; } = "";
        [ProtoMember(2)] public int Count { get; init; }
    }
    [ProtoContract] public sealed record StreamThingsRequest { [ProtoMember(1)] public int Limit { get; init; } }
    [ProtoContract] public sealed record StreamThingsResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
}
