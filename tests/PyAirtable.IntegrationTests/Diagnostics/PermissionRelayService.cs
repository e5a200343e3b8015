using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Permissions;

namespace PyAirtable.IntegrationTests.Diagnostics;

/// <summary>
/// A test-only service that calls IPermissionService with its own call context, as WorkspaceService does. Its RPCs
/// need credentials but no scope, so a key the gateway lets through here reaches the Permission service's in-process
/// binding with scopes the Permission RPC itself may not accept.
/// </summary>
[Service("pyairtable.testing.v1.PermissionRelayService")]
public interface IPermissionRelayService
{
    ValueTask<GrantResponse> GrantAsync(GrantRequest request, CallContext context = default);

    IAsyncEnumerable<LookupResourcesResponse> LookupResourcesAsync(LookupResourcesRequest request, CallContext context = default);
}

public sealed class PermissionRelayService(IPermissionService permissions) : IPermissionRelayService
{
    public ValueTask<GrantResponse> GrantAsync(GrantRequest request, CallContext context = default) =>
        permissions.GrantAsync(request, context);

    public IAsyncEnumerable<LookupResourcesResponse> LookupResourcesAsync(LookupResourcesRequest request, CallContext context = default) =>
        permissions.LookupResourcesAsync(request, context);
}
