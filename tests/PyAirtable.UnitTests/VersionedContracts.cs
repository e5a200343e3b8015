// Test-only contracts of one area in several package versions, exported by ProtoExportTests from a list of
// types: v1 (the area's own namespace), V2 beside it, the unstable V1Alpha1/V1Beta1, and namespaces that name no package.
#pragma warning disable CA1711, CA1720, IDE0130
using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;

namespace PyAirtable.UnitTests.Versioned.Contracts.Things
{
    /// <summary>What a thing is.</summary>
    public enum ThingKind
    {
        Unspecified = 0,
        Widget = 1,
    }

    [Service("pyairtable.things.v1.ThingService")]
    public interface IThingService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record GetThingResponse
    {
        [ProtoMember(1)] public string Id { get; init; } = "";
        [ProtoMember(2)] public ThingKind Kind { get; init; }
    }
}

namespace PyAirtable.UnitTests.Versioned.Contracts.Things.V2
{
    [Service("pyairtable.things.v2.ThingService")]
    public interface IThingService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public long Id { get; init; } }
    [ProtoContract] public sealed record GetThingResponse
    {
        [ProtoMember(1)] public long Id { get; init; }

        // Another package's enum: v2 reuses what did not change in v1 instead of copying it.
        [ProtoMember(2)] public Things.ThingKind Kind { get; init; }
    }

    /// <summary>Named for v1 while its namespace says v2.</summary>
    [Service("pyairtable.things.v1.OtherThingService")]
    public interface IMisnamedThingService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
    }
}

namespace PyAirtable.UnitTests.Versioned.Contracts.Things.V1Alpha1
{
    [Service("pyairtable.things.v1alpha1.ThingService")]
    public interface IThingService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record GetThingResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

namespace PyAirtable.UnitTests.Versioned.Contracts.Things.V1Beta1
{
    [Service("pyairtable.things.v1beta1.ThingService")]
    public interface IThingService
    {
        ValueTask<GetThingResponse> GetThingAsync(GetThingRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetThingRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record GetThingResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

// Namespaces that name no package version (each refused by the exporter).
namespace PyAirtable.UnitTests.Versioned.Contracts.Things.V2Beta
{
    [ProtoContract] public sealed record Thing { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

namespace PyAirtable.UnitTests.Versioned.Contracts.Things.V1alpha1
{
    [ProtoContract] public sealed record Thing { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

namespace PyAirtable.UnitTests.Versioned.Contracts.Things.Version2
{
    [ProtoContract] public sealed record Thing { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

namespace PyAirtable.UnitTests.Versioned.Contracts.Things.Internal.V2
{
    [ProtoContract] public sealed record Thing { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

namespace PyAirtable.UnitTests.Versioned.Contracts.V2
{
    [ProtoContract] public sealed record Thing { [ProtoMember(1)] public string Id { get; init; } = ""; }
}

namespace PyAirtable.UnitTests.Versioned.Contracts.Things.V1
{
    [ProtoContract] public sealed record Thing { [ProtoMember(1)] public string Id { get; init; } = ""; }
}
