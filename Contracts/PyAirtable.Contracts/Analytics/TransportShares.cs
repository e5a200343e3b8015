using ProtoBuf;

namespace PyAirtable.Contracts.Analytics;

/// <summary>How a call reached the platform.</summary>
[ProtoContract]
public enum CallTransport
{
    /// <summary>Not known: calls recorded before transports were, and calls sent with IngestMetrics.</summary>
    [ProtoEnum(Name = "CALL_TRANSPORT_UNSPECIFIED")] Unspecified = 0,
    /// <summary>gRPC (HTTP/2, <c>application/grpc</c>).</summary>
    [ProtoEnum(Name = "CALL_TRANSPORT_GRPC")] Grpc = 1,
    /// <summary>gRPC-Web (<c>application/grpc-web</c>, e.g. from a browser).</summary>
    [ProtoEnum(Name = "CALL_TRANSPORT_GRPC_WEB")] GrpcWeb = 2,
    /// <summary>The JSON/HTTP API (a route such as <c>GET /v1/users/{user_id}</c>).</summary>
    [ProtoEnum(Name = "CALL_TRANSPORT_REST")] Rest = 3,
}

/// <summary>The calls of one endpoint by transport, and the endpoint's share among the versions of its method.</summary>
[ProtoContract]
public sealed record EndpointTransportShares
{
    /// <summary>The endpoint, e.g. <c>/pyairtable.users.v1.UserService/GetUser</c>.</summary>
    [ProtoMember(1)] public string Endpoint { get; init; } = "";

    /// <summary>Its API version (<c>v1</c>, <c>v2</c>, …), or empty when the endpoint names none.</summary>
    [ProtoMember(2)] public string ApiVersion { get; init; } = "";

    /// <summary>The method without its version, e.g. <c>pyairtable.users.UserService/GetUser</c>: the versions of one method share it.</summary>
    [ProtoMember(3)] public string Method { get; init; } = "";

    /// <summary>Calls of this endpoint in the range.</summary>
    [ProtoMember(4)] public long Calls { get; init; }

    /// <summary>One per transport that carried calls, most calls first; the shares add up to 1.</summary>
    [ProtoMember(5)] public List<TransportShare> Transports { get; init; } = [];

    /// <summary>This endpoint's calls over the calls of every version of <c>method</c> (1 when it has one version).</summary>
    [ProtoMember(6)] public double VersionShare { get; init; }
}

/// <summary>Calls by one transport.</summary>
[ProtoContract]
public sealed record TransportShare
{
    /// <summary>The transport.</summary>
    [ProtoMember(1)] public CallTransport Transport { get; init; }

    /// <summary>Calls it carried.</summary>
    [ProtoMember(2)] public long Calls { get; init; }

    /// <summary><c>calls</c> over the endpoint's calls (0 to 1).</summary>
    [ProtoMember(3)] public double Share { get; init; }
}
