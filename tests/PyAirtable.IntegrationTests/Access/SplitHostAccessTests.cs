using Grpc.Core;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Access;

/// <summary>
/// The Workspace service asking a Permission service on another host: same answers, the caller's identity carried along.
/// The hosts talk mTLS: registering workspaces and bases is for the Workspaces service only, which the permissions host
/// knows from the calling host's platform certificate.
/// </summary>
public sealed class SplitHostAccessTests : DatabasePerTest
{
    [Fact]
    public async Task Workspaces_WithPermissionsOnAnotherHost_EnforceTheSameRules()
    {
        var prefix = $"split-access-{Guid.NewGuid():N}:";
        using var certificates = await TestCertificates.CreateAsync("permissions-host:permissions", "edge:workspaces+auth+users", "tester");
        await using var permissionsHost = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "permissions-host";
            certificates.Apply(o, o.Name, requireClientCertificates: true);
            o.Settings["Redis:InstanceName"] = prefix;
        });
        await using var edge = await TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = "edge";
            certificates.Apply(o, o.Name, requireClientCertificates: false);
            o.Settings["Redis:InstanceName"] = prefix;
            o.Settings["Remote:pyairtable.permissions.v1.PermissionService"] = permissionsHost.GrpcAddress;
        });
        var owner = await edge.RegisterAsync();
        var member = await edge.RegisterAsync();
        var stranger = await edge.RegisterAsync();

        var workspace = (await edge.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Remote checks" }, owner.Bearer)).Workspace!;
        member = await edge.JoinAsync(owner, member, workspace.Id, PermissionLevel.Comment);
        var baseId = (await edge.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "B" }, owner.Bearer)).Base!.Id;

        Assert.Equal(PermissionLevel.Comment, (await edge.Workspaces().GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace.Id }, member.Bearer)).Workspace!.MyLevel);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await edge.Workspaces().RenameBaseAsync(new RenameBaseRequest { BaseId = baseId, Name = "x" }, member.Bearer)), StatusCode.PermissionDenied);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await edge.Workspaces().GetBaseAsync(new GetBaseRequest { BaseId = baseId }, stranger.Bearer)), StatusCode.NotFound);

        // The grant lives on the permissions host: it answers a direct check the same way.
        var check = await permissionsHost.Permissions().CheckPermissionAsync(
            new CheckPermissionRequest { Resource = Ref(ResourceType.Base, baseId), Level = PermissionLevel.Comment }, member.Bearer);
        Assert.True(check.Allowed, check.Reason);
    }
}
