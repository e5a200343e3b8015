using Dapper;
using Google.Rpc;
using Grpc.Core;
using Npgsql;
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
        var expires = DateTime.UtcNow.AddSeconds(6); // room for the create on a slow box: the wait is measured from it
        var key = await host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead], ExpiresAt = expires }, user.Bearer);

        var left = expires - DateTime.UtcNow + TimeSpan.FromMilliseconds(200);
        await Task.Delay(left > TimeSpan.Zero ? left : TimeSpan.Zero);

        var verdict = await ValidateAsync(host, user, key.Secret);
        Assert.Equal((false, "expired", null), (verdict.Valid, verdict.Reason, verdict.User));
    }

    [Fact]
    public async Task AnApiKey_SpeaksForItsAccountAsItIsNow_AndItsOwnRowRevokesIt_WithoutTheRevocationList()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var keys = await Task.WhenAll(Enumerable.Range(0, 2).Select(async _ => (await host.Auth().CreateApiKeyAsync(
            new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead] }, user.Bearer)).Secret));
        var verdict = await ValidateAsync(host, user, keys[0]);
        Assert.Equal((false, 0), (verdict.User!.EmailVerified, verdict.User.Roles.Count));

        // Roles and the e-mail's verification are the account's at the time of the question, not when the key was made.
        await SqlAsync("UPDATE auth.credentials SET roles = '{admin}', email_verified_at = now() WHERE user_id = @id", Guid.Parse(user.UserId));
        verdict = await ValidateAsync(host, user, keys[0]);
        Assert.True(verdict.User!.EmailVerified);
        Assert.Equal(["admin"], verdict.User.Roles);

        // The revocation list forgets an entry after its TTL; the key's row and the account's do not.
        await SqlAsync("UPDATE auth.api_keys SET revoked_at = now() WHERE secret_hash = @id", PyAirtable.Services.Auth.TokenService.Hash(keys[0]));
        var revoked = await ValidateAsync(host, user, keys[0]);
        Assert.Equal((false, "revoked"), (revoked.Valid, revoked.Reason));
        Assert.True((await ValidateAsync(host, user, keys[1])).Valid);
        await SqlAsync("UPDATE auth.credentials SET disabled_at = now() WHERE user_id = @id", Guid.Parse(user.UserId));
        var disabled = await ValidateAsync(host, user, keys[1]);
        Assert.Equal((false, "revoked", null), (disabled.Valid, disabled.Reason, disabled.User));
    }

    [Fact]
    public async Task AKeysLastUse_IsWrittenAgainOnceItIsMoreThanAMinuteOld()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var key = await host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead] }, user.Bearer);
        var id = Guid.Parse(key.ApiKey!.Id);

        foreach (var (age, written) in new[] { (50, false), (70, true) })
        {
            var before = await SqlAsync<DateTime>(
                "UPDATE auth.api_keys SET last_used_at = now() - make_interval(secs => @age) WHERE id = @id RETURNING last_used_at", id, age);
            Assert.True((await ValidateAsync(host, user, key.Secret)).Valid);
            var after = await SqlAsync<DateTime>("SELECT last_used_at FROM auth.api_keys WHERE id = @id", id);
            Assert.Equal(written, after > before);
        }
    }

    private async Task SqlAsync(string sql, object id)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.ExecuteAsync(sql, new { id });
    }

    private async Task<T> SqlAsync<T>(string sql, Guid id, int age = 0)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        return await connection.QuerySingleAsync<T>(sql, new { id, age = (double)age });
    }

    private static async Task<ValidateTokenResponse> ValidateAsync(TestHost host, TestUser asker, string apiKey) =>
        await host.Auth().ValidateTokenAsync(new ValidateTokenRequest { ApiKey = apiKey }, asker.Bearer);
}
