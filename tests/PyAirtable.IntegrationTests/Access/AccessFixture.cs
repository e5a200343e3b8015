using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Access;

public static class Access
{
    public static IPermissionService Permissions(this TestHost host) => host.Channel.CreateGrpcService<IPermissionService>();

    public static IWorkspaceService Workspaces(this TestHost host) => host.Channel.CreateGrpcService<IWorkspaceService>();

    public static ResourceRef Ref(ResourceType type, string id) => new() { Type = type, Id = id };
}
