using Microsoft.Extensions.Configuration;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Contracts;

namespace PyAirtable.UnitTests;

public sealed class ContractBindingTests
{
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
}
