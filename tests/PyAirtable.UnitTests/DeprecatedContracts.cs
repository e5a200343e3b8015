// Test-only contracts that deprecate a whole service and a single method, exported by DeprecationExportTests.
#pragma warning disable CA1711, IDE0130
using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Common;

namespace PyAirtable.UnitTests.Deprecated.Contracts.Gadgets
{
    /// <summary>The first gadget API.</summary>
    [Service("pyairtable.gadgets.v1.GadgetService")]
    [ApiDeprecated("pyairtable.gadgets.v2.GadgetService", Sunset = "2027-01-31")]
    public interface IGadgetService
    {
        /// <summary>One gadget.</summary>
        [HttpRoute("GET", "/v1/gadgets/{id}")]
        ValueTask<GetGadgetResponse> GetGadgetAsync(GetGadgetRequest request, CallContext context = default);
    }

    /// <summary>Gadgets, still current; one of its methods is not.</summary>
    [Service("pyairtable.gadgets.v1.GadgetAdminService")]
    public interface IGadgetAdminService
    {
        /// <summary>Replaced by the v2 GetGadget.</summary>
        [ApiDeprecated("pyairtable.gadgets.v2.GadgetService/GetGadget")]
        [HttpRoute("GET", "/v1/admin/gadgets/{id}")]
        ValueTask<PeekGadgetResponse> PeekGadgetAsync(PeekGadgetRequest request, CallContext context = default);

        /// <summary>Still current.</summary>
        [HttpRoute("POST", "/v1/admin/gadgets/{id}:poke")]
        ValueTask<PokeGadgetResponse> PokeGadgetAsync(PokeGadgetRequest request, CallContext context = default);
    }

    [ProtoContract] public sealed record GetGadgetRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record GetGadgetResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record PeekGadgetRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record PeekGadgetResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record PokeGadgetRequest { [ProtoMember(1)] public string Id { get; init; } = ""; }
    [ProtoContract] public sealed record PokeGadgetResponse { [ProtoMember(1)] public string Id { get; init; } = ""; }
}
