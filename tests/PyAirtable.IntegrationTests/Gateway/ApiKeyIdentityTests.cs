using Grpc.Core;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// Who a call made with an API key is, as the services see it: the key's user, limited to the key's scopes, named by the
/// key's id; the same on the first call (validated by the Auth service) and on later ones (the gateway's kept verdict).
/// </summary>
public sealed class ApiKeyIdentityTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    private async Task<UserContext> SeenAsync(ProtoBuf.Grpc.CallContext credentials) =>
        (await Host.Channel.CreateGrpcService<IDiagnosticsService>().EchoAsync(new EchoRequest { Text = "who" }, credentials)).Metadata!.UserContext!;

    [Fact]
    public async Task AnApiKeyCall_IsTheKeysUser_WithTheKeysScopesAndId_FirstCallAndKeptAlike()
    {
        var user = await Host.RegisterAsync();
        var key = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead, Scopes.ApiKeysManage] }, user.Bearer);
        var session = await SeenAsync(user.Bearer);

        for (var call = 0; call < 2; call++)
        {
            var seen = await SeenAsync(Identities.WithApiKey(key.Secret));
            Assert.Equal(user.UserId, seen.UserId);
            Assert.Equal(user.Email, seen.Email);
            Assert.Equal(AuthMethod.ApiKey, seen.AuthMethod);
            Assert.Equal(key.ApiKey!.Id, seen.CredentialId);
            Assert.Equal([Scopes.ApiKeysManage, Scopes.UsersRead], seen.Scopes.Order(StringComparer.Ordinal));
            Assert.Equal(session.Roles, seen.Roles);
            Assert.False(seen.EmailVerified); // nobody verified this address
        }
    }

    [Fact]
    public async Task AKeyOfAVerifiedOperator_CarriesTheirRoles_AndTheirVerifiedAddress()
    {
        var admin = await Host.VerifyEmailAsync(await Host.RegisterAdminAsync(fixture.Database.ConnectionString));
        var key = await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "ops", Scopes = [Scopes.UsersRead] }, admin.Bearer);

        for (var call = 0; call < 2; call++)
        {
            var seen = await SeenAsync(Identities.WithApiKey(key.Secret));
            Assert.Contains(PyAirtable.Services.Infrastructure.Identity.PlatformRoles.Admin, seen.Roles);
            Assert.True(seen.EmailVerified);
        }
    }

    [Fact]
    public async Task AKeyThatCannotBeAKey_AndAnUnknownKey_AreBothInvalid_AndTheCallerStaysAnonymous()
    {
        var user = await Host.RegisterAsync();
        foreach (var secret in new[] { "pat_short", "pat_" + new string('A', 43), "not-a-key" })
        {
            var seen = await SeenAsync(Identities.WithApiKey(secret)); // Echo allows anonymous callers
            Assert.True(string.IsNullOrEmpty(seen?.UserId));
            AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(
                new Contracts.Users.GetUserRequest { UserId = user.UserId }, Identities.WithApiKey(secret))), StatusCode.Unauthenticated, "invalid_api_key");
        }
    }
}
