using ProtoBuf;

namespace PyAirtable.Contracts.Common;

/// <summary>The serving status of a service, as in <c>grpc.health.v1</c>.</summary>
[ProtoContract(Name = "HealthStatus")]
public enum HealthStatus
{
    /// <summary>Not set.</summary>
    [ProtoEnum(Name = "HEALTH_STATUS_UNSPECIFIED")] Unspecified = 0,
    /// <summary>The service and its dependencies are working.</summary>
    [ProtoEnum(Name = "HEALTH_STATUS_SERVING")] Serving = 1,
    /// <summary>The service cannot serve: a dependency is down or the host is shutting down.</summary>
    [ProtoEnum(Name = "HEALTH_STATUS_NOT_SERVING")] NotServing = 2,
    /// <summary>The host does not know the service.</summary>
    [ProtoEnum(Name = "HEALTH_STATUS_SERVICE_UNKNOWN")] ServiceUnknown = 3,
}
