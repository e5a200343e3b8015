using Microsoft.Extensions.Configuration;
using PyAirtable.Contracts.Users;
using PyAirtable.Host.Gateway.RateLimiting;
using PyAirtable.Services.Infrastructure.Contracts;

namespace PyAirtable.UnitTests;

/// <summary>
/// The decisions behind rate limits and remote retries that are made from names and configuration: which class an
/// RPC is in and its limits, and which contract methods count as idempotent reads.
/// </summary>
public sealed class GatewayProtectionTests
{
    private static RateLimitOptions Bind(Dictionary<string, string?> settings)
    {
        var options = new RateLimitOptions();
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build().GetSection(RateLimitOptions.Section).Bind(options);
        return options;
    }

    [Fact]
    public void ClassOf_MethodWinsOverService_AndHealthIsUnlimitedByDefault()
    {
        var options = Bind(new()
        {
            ["RateLimits:Rpcs:pyairtable.users.v1.UserService"] = "reads",
            ["RateLimits:Rpcs:pyairtable.users.v1.UserService/DeactivateUser"] = "writes",
        });

        Assert.Equal("reads", options.ClassOf("/pyairtable.users.v1.UserService/GetUser"));
        Assert.Equal("writes", options.ClassOf("/pyairtable.users.v1.UserService/DeactivateUser"));
        Assert.Equal("default", options.ClassOf("/pyairtable.auth.v1.AuthService/Login"));
        Assert.Equal("unlimited", options.ClassOf("/grpc.health.v1.Health/Check"));
        // What a served call reads: the same, worked out once per method.
        Assert.Equal(("reads", options.LimitsOf("reads")), options.Resolve("/pyairtable.users.v1.UserService/GetUser"));
        Assert.Equal(("unlimited", new ResolvedLimits(0, 0, 0)), options.Resolve("/grpc.health.v1.Health/Check"));
    }

    [Fact]
    public void LimitsOf_UnsetValuesComeFromTheDefaultClass_ThenFromAirtablesFigures()
    {
        var options = Bind(new()
        {
            ["RateLimits:Classes:default:PerBase"] = "7",
            ["RateLimits:Classes:writes:PerCredential"] = "10",
        });

        Assert.Equal(new ResolvedLimits(50, 7, 20), options.LimitsOf("default"));
        Assert.Equal(new ResolvedLimits(10, 7, 20), options.LimitsOf("writes"));
        Assert.Equal(new ResolvedLimits(0, 0, 0), options.LimitsOf("unlimited"));
    }

    [Theory]
    [InlineData("GetUser", true)]
    [InlineData("ListWorkspaces", true)]
    [InlineData("Check", true)]
    [InlineData("Getaway", false)] // a prefix must end at a word boundary
    [InlineData("UpdateUser", false)]
    [InlineData("Listen", false)]
    public void IsIdempotent_FollowsTheReadNamingConvention(string method, bool idempotent) =>
        Assert.Equal(idempotent, RemoteCallOptions.IsIdempotent(method));

    [Fact]
    public void MethodNamesOf_DropsTheAsyncSuffix()
    {
        var names = RemoteCallOptions.MethodNamesOf(typeof(IUserService)).ToList();

        Assert.Contains("GetUser", names);
        Assert.DoesNotContain(names, n => n.EndsWith("Async", StringComparison.Ordinal));
    }
}
