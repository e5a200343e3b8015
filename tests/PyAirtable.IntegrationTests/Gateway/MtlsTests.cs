using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Access.Access;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// mTLS between hosts with the platform's private CA (scripts/certs.sh): hosts accept only certificates it issued, and a
/// host's certificate gives the services it runs an identity, so operations meant for services stay theirs.
/// </summary>
public sealed class MtlsTests : DatabasePerTest
{
    private const string Permissions = "pyairtable.permissions.v1.PermissionService";
    private readonly string _redisPrefix = $"mtls-{Guid.NewGuid():N}:";
    private TestCertificates _certs = null!;
    private TestCertificates _foreign = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _certs = await TestCertificates.CreateAsync("permissions:permissions", "workspaces:workspaces+auth+users", "edge", "tester");
        _foreign = await TestCertificates.CreateAsync("intruder:workspaces");
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _certs.Dispose();
        _foreign.Dispose();
    }

    [Fact]
    public async Task Backend_AcceptsOnlyPlatformCertificates()
    {
        await using var backend = await StartAsync("permissions", require: true);

        // A platform host's certificate: served.
        using var platform = GrpcChannel.ForAddress(backend.GrpcAddress, new GrpcChannelOptions { HttpHandler = _certs.Handler("tester") });
        var health = await new Grpc.Health.V1.Health.HealthClient(platform).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        // No certificate, or one another CA issued (claiming the workspaces service): refused in the handshake.
        foreach (var handler in new[] { _certs.Handler(null), _certs.Handler("intruder", from: _foreign) })
        {
            using var refused = GrpcChannel.ForAddress(backend.GrpcAddress, new GrpcChannelOptions { HttpHandler = handler });
            var ex = await Assert.ThrowsAsync<RpcException>(async () =>
                await new Grpc.Health.V1.Health.HealthClient(refused).CheckAsync(new HealthCheckRequest()));
            // The server drops the connection in the handshake (with TLS 1.3 the client learns it on its first read):
            // grpc-dotnet reports UNAVAILABLE or INTERNAL depending on where it broke. No call is served either way.
            Assert.Contains(ex.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal });
            Assert.IsType<HttpRequestException>(ex.Status.DebugException);
        }
    }

    [Fact]
    public async Task WorkspacesHost_RegistersWorkspacesRemotely_WhileUsersCannot_EvenThroughAForwardingHost()
    {
        await using var permissions = await StartAsync("permissions", require: true);
        await using var workspaces = await StartAsync("workspaces", require: false,
            ("Topology:Serve", "*,-permissions"), ("Topology:Forward", "true"), ($"Remote:{Permissions}", permissions.GrpcAddress));
        var user = await workspaces.RegisterAsync();

        // CreateWorkspace on the workspaces host registers the workspace on the permissions host, presenting a
        // certificate that names the workspaces service: accepted.
        var created = await workspaces.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Over mTLS" }, user.Bearer);
        var check = await workspaces.Permissions().CheckPermissionAsync(new CheckPermissionRequest
        {
            Resource = Ref(ResourceType.Workspace, created.Workspace!.Id),
            UserId = user.UserId,
            Level = PermissionLevel.Owner,
        }, user.Bearer);
        Assert.True(check.Allowed);

        // The same user calling RegisterResource directly, forwarded by that host over the same mTLS connection: refused,
        // since the call is the user's (the forwarded call claims the permissions service, not workspaces).
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await workspaces.Permissions().RegisterResourceAsync(
            new RegisterResourceRequest { Resource = Ref(ResourceType.Workspace, Guid.NewGuid().ToString()) }, user.Bearer));
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
    }

    [Fact]
    public async Task AForwardedCallsClientAddress_IsBelievedFromAPlatformCertificate_WithoutAnyProxyConfigured()
    {
        await using var backend = await StartAsync("permissions", require: true);
        // The edge trusts the test's client as a proxy (it is on 127.0.0.1), so it takes the client from its header and
        // sends it on; the backend has no proxies configured: it believes the edge for its platform certificate alone.
        await using var edge = await StartAsync("edge", require: false, ("ForwardedHeaders:KnownProxies", "127.0.0.1"),
            ("Topology:Serve", $"*,-{TestHost.DiagnosticsServiceName}"), ("Topology:Forward", "true"),
            ($"Remote:{TestHost.DiagnosticsServiceName}", backend.GrpcAddress));

        var reply = await edge.Diagnostics.EchoAsync(new EchoRequest(),
            new ProtoBuf.Grpc.CallContext(new CallOptions(new Metadata { { "x-forwarded-for", "203.0.113.9" } })));

        Assert.Equal("203.0.113.9", reply.Metadata!.ClientIp);
    }

    [Fact]
    public async Task AHostWhoseCertificateNamesNoService_CannotActAsOne()
    {
        await using var permissions = await StartAsync("permissions", require: true);
        // An edge's certificate names no service; it serves Workspaces here only to show the claim is checked.
        await using var edge = await StartAsync("edge", require: false,
            ("Topology:Serve", "*,-permissions"), ($"Remote:{Permissions}", permissions.GrpcAddress));
        var user = await edge.RegisterAsync();

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await edge.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "No identity" }, user.Bearer));

        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
    }

    private Task<TestHost> StartAsync(string name, bool require, params (string Key, string Value)[] settings) =>
        TestHost.StartAsync(Database.ConnectionString, name, _redisPrefix, settings, o => _certs.Apply(o, name, require));
}
