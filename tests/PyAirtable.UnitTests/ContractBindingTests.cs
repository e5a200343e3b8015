using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Requests;

namespace PyAirtable.UnitTests;

/// <summary>
/// How a contract is bound: its name from [Service], and in process a binding that enforces the scopes the
/// implementation declares (the gateway path is covered through a real host in the integration tests).
/// </summary>
public sealed class ContractBindingTests
{
    private static readonly IConfiguration NoRemotes = new ConfigurationBuilder().Build();

    [Fact]
    public void ServiceNameOf_ReadsTheServiceAttribute() =>
        Assert.Equal("pyairtable.permissions.v1.PermissionService", ContractBindingExtensions.ServiceNameOf<IPermissionService>());

    [Fact]
    public void IsRemote_IsTrueOnlyWhenTheContractsOwnRemoteKeyIsSet()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Remote:pyairtable.auth.v1.AuthService"] = "http://auth:5000" })
            .Build();

        Assert.True(configuration.IsRemote<IAuthService>());
        Assert.False(configuration.IsRemote<IPermissionService>());
    }

    [Fact]
    public async Task InProcessCall_WithoutTheDeclaredScope_FailsWithRequiredScope_AndTheMethodDoesNotRun()
    {
        var (contract, implementation) = Bind();

        var pending = contract.WriteAsync(new Probe(), As(scopes: [Scopes.WorkspacesRead])); // fails as a remote call would: when awaited

        var refused = await Assert.ThrowsAsync<PlatformException>(async () => await pending);
        Assert.Equal(ErrorCode.PermissionDenied, refused.Code);
        Assert.Equal(Scopes.WorkspacesWrite, refused.Metadata["required_scope"]);
        Assert.Equal(0, implementation.Runs);
    }

    [Fact]
    public async Task InProcessStream_WithoutTheDeclaredScope_FailsOnItsFirstRead()
    {
        var (contract, implementation) = Bind();

        await using var items = contract.ListAsync(new Probe(), As(scopes: [Scopes.UsersRead])).GetAsyncEnumerator();

        var refused = await Assert.ThrowsAsync<PlatformException>(async () => await items.MoveNextAsync());
        Assert.Equal(Scopes.WorkspacesRead, refused.Metadata["required_scope"]);
        Assert.Equal(0, implementation.Runs);
    }

    [Fact]
    public async Task InProcessCall_WithoutCredentials_IsUnauthenticated()
    {
        var (contract, _) = Bind();

        var refused = await Assert.ThrowsAsync<PlatformException>(async () => await contract.WriteAsync(new Probe(), As(userId: "")));

        Assert.Equal(ErrorCode.Unauthenticated, refused.Code);
    }

    [Fact]
    public async Task InProcessCall_WithTheScopeOrAnUnrestrictedToken_Runs()
    {
        var (contract, implementation) = Bind();

        await contract.WriteAsync(new Probe(), As(scopes: [Scopes.WorkspacesWrite]));
        await contract.WriteAsync(new Probe(), As(scopes: [])); // a user's access token is not limited by scope
        await foreach (var _ in contract.ListAsync(new Probe(), As(scopes: [Scopes.WorkspacesRead])))
        {
        }

        Assert.Equal(3, implementation.Runs);
    }

    [Fact]
    public async Task InProcessCall_OfAnUndeclaredOrAnonymousMethod_PassesAndItsErrorsArriveUnwrapped()
    {
        var (contract, _) = Bind();

        Assert.Equal("open", (await contract.OpenAsync(new Probe { Text = "open" }, As(userId: ""))).Text);
        var error = await Assert.ThrowsAsync<PlatformException>(async () => await contract.BrokenAsync(new Probe(), As(userId: "")));
        Assert.Equal(ErrorCode.NotFound, error.Code); // not a TargetInvocationException from the proxy's reflection call
    }

    [Fact]
    public void InProcessBinding_OfAnImplementationDeclaringNoScope_IsTheImplementationItself()
    {
        using var services = new ServiceCollection().AddContract<IPlainProbe, PlainProbe>(NoRemotes).BuildServiceProvider();

        Assert.Same(services.GetRequiredService<PlainProbe>(), services.GetRequiredService<IPlainProbe>());
    }

    private static (IScopedProbe Contract, ScopedProbe Implementation) Bind()
    {
        var services = new ServiceCollection().AddContract<IScopedProbe, ScopedProbe>(NoRemotes).BuildServiceProvider();
        return (services.GetRequiredService<IScopedProbe>(), services.GetRequiredService<ScopedProbe>());
    }

    /// <summary>A server-side call context whose caller is as the gateway would have set it.</summary>
    private static CallContext As(string userId = "0190a5d4-0000-7000-8000-000000000001", List<string>? scopes = null)
    {
        var http = new DefaultHttpContext();
        http.Features.Set<IRequestMetadataFeature>(new RequestMetadataFeature(new RequestMetadata
        {
            UserContext = new UserContext { UserId = userId, Scopes = scopes ?? [] },
        }));
        return new CallContext(new object(), new FakeServerCallContext(http));
    }

    [Service("pyairtable.testing.v1.ScopedProbeService")]
    public interface IScopedProbe
    {
        ValueTask<Probe> WriteAsync(Probe request, CallContext context = default);

        IAsyncEnumerable<Probe> ListAsync(Probe request, CallContext context = default);

        ValueTask<Probe> OpenAsync(Probe request, CallContext context = default);

        ValueTask<Probe> BrokenAsync(Probe request, CallContext context = default);
    }

    [Service("pyairtable.testing.v1.PlainProbeService")]
    public interface IPlainProbe
    {
        ValueTask<Probe> EchoAsync(Probe request, CallContext context = default);
    }

    [ProtoContract]
    public sealed record Probe
    {
        [ProtoMember(1)] public string Text { get; init; } = "";
    }

    public sealed class ScopedProbe : IScopedProbe
    {
        private int _runs;

        public int Runs => _runs;

        [RequiresScope(Scopes.WorkspacesWrite)]
        public ValueTask<Probe> WriteAsync(Probe request, CallContext context = default)
        {
            Interlocked.Increment(ref _runs);
            return ValueTask.FromResult(request);
        }

        [RequiresScope(Scopes.WorkspacesRead)]
        public async IAsyncEnumerable<Probe> ListAsync(Probe request, CallContext context = default)
        {
            Interlocked.Increment(ref _runs);
            await Task.Yield();
            yield return request;
        }

        [Microsoft.AspNetCore.Authorization.AllowAnonymous]
        public ValueTask<Probe> OpenAsync(Probe request, CallContext context = default) => ValueTask.FromResult(request);

        public ValueTask<Probe> BrokenAsync(Probe request, CallContext context = default)
        {
            Fail.NotFound("probe", "1"); // thrown synchronously, not inside a task
            return default;
        }
    }

    public sealed class PlainProbe : IPlainProbe
    {
        public ValueTask<Probe> EchoAsync(Probe request, CallContext context = default) => ValueTask.FromResult(request);
    }

    private sealed class FakeServerCallContext(HttpContext http) : ServerCallContext
    {
        private readonly Dictionary<object, object> _userState = new() { ["__HttpContext"] = http }; // what GetHttpContext() reads in tests

        protected override string MethodCore => "/pyairtable.testing.v1.ScopedProbeService/Probe";
        protected override string HostCore => "localhost";
        protected override string PeerCore => "ipv4:127.0.0.1:1";
        protected override DateTime DeadlineCore => DateTime.MaxValue;
        protected override Metadata RequestHeadersCore => [];
        protected override CancellationToken CancellationTokenCore => CancellationToken.None;
        protected override Metadata ResponseTrailersCore => [];
        protected override Status StatusCore { get; set; }
        protected override WriteOptions? WriteOptionsCore { get; set; }
        protected override AuthContext AuthContextCore => new(null, []);
        protected override IDictionary<object, object> UserStateCore => _userState;

        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) =>
            throw new NotSupportedException();

        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }
}
