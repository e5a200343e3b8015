using Google.Rpc;
using Grpc.Core;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>The ValidateToken RPC for API keys, as a remote gateway asks it: one credential per question, and every verdict told.</summary>
public sealed class ValidateTokenTests : DatabasePerTest
{
    [Fact]
    public async Task ValidateToken_NeedsExactlyOneCredential()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var key = await host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead] }, user.Bearer);

        foreach (var request in new[]
        {
            new ValidateTokenRequest(),
            new ValidateTokenRequest { AccessToken = user.Tokens.AccessToken, ApiKey = key.Secret },
        })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(async () => await host.Auth().ValidateTokenAsync(request, user.Bearer));
            AssertStatus(ex, StatusCode.InvalidArgument);
            Assert.Equal("access_token", ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        }
    }

    [Fact]
    public async Task AnApiKey_IsValidWithItsUserScopesAndExpiry_ThenRevoked_AndAnUnknownOrOverlongKeyIsRefused()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var expires = DateTime.UtcNow.AddHours(1);
        var key = await host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead], ExpiresAt = expires }, user.Bearer);

        var verdict = await ValidateAsync(host, user, key.Secret);
        Assert.True(verdict.Valid);
        Assert.Equal("", verdict.Reason);
        Assert.Equal((user.UserId, user.Email, AuthMethod.ApiKey, key.ApiKey!.Id),
            (verdict.User!.UserId, verdict.User.Email, verdict.User.AuthMethod, verdict.User.CredentialId));
        Assert.Equal([Scopes.UsersRead], verdict.User.Scopes);
        Assert.Equal(expires, verdict.ExpiresAt!.Value, TimeSpan.FromMilliseconds(1));

        // Used now, and not recorded again within the minute (one write per key per minute, however busy the key).
        var used = Assert.Single((await host.Auth().ListApiKeysAsync(new ListApiKeysRequest(), user.Bearer)).ApiKeys).LastUsedAt;
        Assert.NotNull(used);
        await Task.Delay(50);
        Assert.True((await ValidateAsync(host, user, key.Secret)).Valid);
        Assert.Equal(used, Assert.Single((await host.Auth().ListApiKeysAsync(new ListApiKeysRequest(), user.Bearer)).ApiKeys).LastUsedAt);

        Assert.Equal("invalid_api_key", (await ValidateAsync(host, user, "pat_" + new string('x', 252))).Reason); // 256 characters
        // Longer than any key: refused before it is hashed or looked up.
        var overlong = await ValidateAsync(host, user, key.Secret + new string('x', 257 - key.Secret.Length));
        Assert.Equal((false, "invalid_token"), (overlong.Valid, overlong.Reason));

        await host.Auth().RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = key.ApiKey.Id }, user.Bearer);
        var revoked = await ValidateAsync(host, user, key.Secret);
        Assert.Equal((false, "revoked", null), (revoked.Valid, revoked.Reason, revoked.User));
    }

    [Fact]
    public async Task AnApiKey_IsExpiredFromItsExpiryOn()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var expires = DateTime.UtcNow.AddSeconds(3);
        var key = await host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead], ExpiresAt = expires }, user.Bearer);

        var left = expires - DateTime.UtcNow + TimeSpan.FromMilliseconds(200);
        await Task.Delay(left > TimeSpan.Zero ? left : TimeSpan.Zero);

        var verdict = await ValidateAsync(host, user, key.Secret);
        Assert.Equal((false, "expired", null), (verdict.Valid, verdict.Reason, verdict.User));
    }

    private static async Task<ValidateTokenResponse> ValidateAsync(TestHost host, TestUser asker, string apiKey) =>
        await host.Auth().ValidateTokenAsync(new ValidateTokenRequest { ApiKey = apiKey }, asker.Bearer);
}
