using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Users;
using PyAirtable.Services.Infrastructure.Contracts;

namespace PyAirtable.UnitTests;

/// <summary>Which services a host serves (Topology:Serve) and how a Remote: value names the instances of one.</summary>
public sealed class TopologyTests
{
    private const string Users = "pyairtable.users.v1.UserService";
    private const string Permissions = "pyairtable.permissions.v1.PermissionService";
    private const string Health = "pyairtable.health.v1.HealthService";

    private static IConfiguration Config(params (string Key, string Value)[] settings) => new ConfigurationBuilder()
        .AddInMemoryCollection(settings.ToDictionary(s => s.Key, s => (string?)s.Value))
        .Build();

    [Theory]
    [InlineData(null, true, true)]
    [InlineData("*", true, true)]
    [InlineData("users", true, false)]
    [InlineData("Users, pyairtable.permissions.v1.PermissionService", true, true)]
    [InlineData("none", false, false)]
    [InlineData("*,-users", false, true)]
    [InlineData("*,-permissions,-users", false, false)]
    public void Serves_FollowsTheList(string? serve, bool users, bool permissions)
    {
        var configuration = serve is null ? Config() : Config((Topology.ServeKey, serve));

        Assert.Equal(users, Topology.Serves(configuration, Users));
        Assert.Equal(permissions, Topology.Serves(configuration, Permissions));
        Assert.True(Topology.Serves(configuration, Health)); // every host reports on itself
    }

    [Fact]
    public void IsRemote_IsTrueForAServiceTheHostDoesNotServe()
    {
        var configuration = Config((Topology.ServeKey, "users"));

        Assert.False(configuration.IsRemote<IUserService>());
        Assert.True(configuration.IsRemote<IPermissionService>());
    }

    [Fact]
    public void AddContract_NotServedAndNoRemote_IsAStartUpErrorNamingTheKey()
    {
        var configuration = Config((Topology.ServeKey, "none"));

        var ex = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddContract<IUsersProbe, NoUsers>(configuration));

        Assert.Contains($"Remote:{Users}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddContract_NotServedWithRemote_BindsTheRemoteTarget()
    {
        var configuration = Config((Topology.ServeKey, "none"), ($"Remote:{Users}", "http://10.0.0.7:50051, http://10.0.0.8:50051"));

        using var provider = new ServiceCollection().AddContract<IUsersProbe, NoUsers>(configuration).BuildServiceProvider();

        var binding = Assert.Single(provider.GetServices<ContractBinding>());
        Assert.False(binding.IsLocal);
        Assert.True(binding.Remote!.IsBalanced);
        Assert.Equal(2, binding.Remote.Addresses.Count);
    }

    [Fact]
    public void ExplicitServeList_WinsOverARemoteBinding_SoRolesCanShareOneFileOfBindings()
    {
        var shared = ($"Remote:{Users}", "dns:///users-headless:50051");

        Assert.False(Config((Topology.ServeKey, "users"), shared).IsRemote<IUserService>());
        Assert.True(Config((Topology.ServeKey, "permissions"), shared).IsRemote<IUserService>());
        Assert.True(Config(shared).IsRemote<IUserService>()); // no list: the binding alone moves it out, as before
    }

    [Theory]
    [InlineData("http://10.0.0.7:50051", false, 1)]
    [InlineData("http://10.0.0.7:50051,http://10.0.0.8:50051", true, 2)]
    [InlineData("https://a:1 https://b:1 https://a:1", true, 2)]
    [InlineData("dns:///users.pyairtable.svc.cluster.local:50051", true, 0)]
    [InlineData("consul:///users", true, 0)]
    public void RemoteTarget_Parses(string value, bool balanced, int addresses)
    {
        var target = RemoteTarget.Parse("Remote:x", value);

        Assert.Equal(balanced, target.IsBalanced);
        Assert.Equal(addresses, target.Addresses.Count);
        Assert.Equal(addresses == 0, target.Resolver is not null);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10.0.0.7:50051")]
    [InlineData("http://a:1,https://b:1")]
    [InlineData("http://a:1/path")]
    [InlineData("dns:users")]
    [InlineData("ftp://a:1,ftp://b:1")]
    public void RemoteTarget_RefusesWhatItCannotDial(string value) =>
        Assert.Throws<InvalidOperationException>(() => RemoteTarget.Parse("Remote:x", value));

    [ProtoBuf.Grpc.Configuration.Service("pyairtable.users.v1.UserService")]
    public interface IUsersProbe
    {
        ValueTask<Probe> GetAsync(Probe request, ProtoBuf.Grpc.CallContext context = default);
    }

    [ProtoBuf.ProtoContract]
    public sealed record Probe;

    private sealed class NoUsers : IUsersProbe
    {
        public ValueTask<Probe> GetAsync(Probe request, ProtoBuf.Grpc.CallContext context = default) => throw new NotSupportedException();
    }
}
