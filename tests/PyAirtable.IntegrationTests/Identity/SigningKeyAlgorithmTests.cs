using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.IdentityModel.Tokens;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Auth;
using PyAirtable.Services.Infrastructure.Identity;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>
/// Which algorithm the platform's keys sign with: ES256 for new keys (a 64-byte signature: a bearer token about 250 characters
/// shorter on every call than with RS256), RS256 where configured, and keys of both kinds verifying side by side, so a deployment
/// whose keys predate ES256 moves to it through ordinary rotations without logging anybody out.
/// </summary>
public sealed class SigningKeyAlgorithmTests : DatabasePerTest
{
    [Fact]
    public async Task NewKeys_AreEs256_PublishedAsP256PointsOnly_AndTheirTokensVerifyWithAnyEcdsaLibrary()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var jwks = await host.Auth().GetJwksAsync(new GetJwksRequest());

        Assert.Equal(2, jwks.Keys.Count); // the signing key and the next one
        var parsed = new JsonWebKeySet(jwks.JwksJson).Keys;
        foreach (var key in jwks.Keys)
        {
            Assert.Equal(("EC", "sig", SecurityAlgorithms.EcdsaSha256, "P-256"), (key.Kty, key.Use, key.Alg, key.Crv));
            Assert.Equal((32, 32), (Base64Url.DecodeFromChars(key.X).Length, Base64Url.DecodeFromChars(key.Y).Length));
            Assert.Equal(("", ""), (key.N, key.E));
            var json = Assert.Single(parsed, p => p.Kid == key.Kid);
            Assert.Equal((key.Kty, key.Use, key.Alg, key.Crv, key.X, key.Y), (json.Kty, json.Use, json.Alg, json.Crv, json.X, json.Y));
            Assert.Null(json.N);
            Assert.False(json.HasPrivateKey);
        }

        Assert.DoesNotContain("\"d\"", jwks.JwksJson, StringComparison.Ordinal);

        // Checked by hand, not by the platform's token handler: the header names the key and ES256, and the signature is the
        // raw r‖s pair (RFC 7518 §3.4) over the first two parts, made by the published key's private half.
        var parts = user.Tokens.AccessToken.Split('.');
        var header = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[0]));
        var signingKey = jwks.Keys[0];
        Assert.Contains("\"alg\":\"ES256\"", header, StringComparison.Ordinal);
        Assert.Contains($"\"kid\":\"{signingKey.Kid}\"", header, StringComparison.Ordinal);
        using var ecdsa = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64Url.DecodeFromChars(signingKey.X), Y = Base64Url.DecodeFromChars(signingKey.Y) },
        });
        var signature = Base64Url.DecodeFromChars(parts[2]);
        Assert.Equal(64, signature.Length);
        Assert.True(ecdsa.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature, HashAlgorithmName.SHA256));
    }

    [Fact]
    public async Task KeysMadeBeforeEs256_KeepSigning_UntilTwoRotationsBringAnEs256Key_AndTokensOfBothKindsStillVerify()
    {
        await using (var first = await TestHost.StartAsync(Database.ConnectionString))
        {
            await using var connection = new NpgsqlConnection(Database.ConnectionString);
            await connection.ExecuteAsync("DELETE FROM auth.signing_keys");
        }

        // An older deployment's keys: RS256, signing and next (what the migration marks every existing key as).
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.Settings["Auth:SigningAlgorithm"] = "RS256");
        var user = await host.RegisterAsync();
        var (_, rsaKeys, rsaTokens) = TokenHandlingTests.Create(host, options: new TokenOptions { SigningAlgorithm = "RS256" });
        Assert.Equal(SecurityAlgorithms.RsaSha256, (await rsaKeys.GetAsync(default)).Signing.Algorithm);

        // Upgraded: new keys are ES256, but the signing key and the one already published as next are RSA keys for life.
        var (_, keys, tokens) = TokenHandlingTests.Create(host, options: new TokenOptions());
        var (oldest, _) = await tokens.IssueAsync(user.UserId, user.Email, false, [], "s1", default);
        Assert.Equal(SecurityAlgorithms.RsaSha256, Algorithm(oldest));
        await keys.RotateAsync(default);
        var (older, _) = await tokens.IssueAsync(user.UserId, user.Email, false, [], "s2", default);
        Assert.Equal(SecurityAlgorithms.RsaSha256, Algorithm(older));
        await keys.RotateAsync(default);
        var (newest, _) = await tokens.IssueAsync(user.UserId, user.Email, false, [], "s3", default);
        Assert.Equal(SecurityAlgorithms.EcdsaSha256, Algorithm(newest));
        Assert.True(newest.Length < older.Length - 200, $"ES256 {newest.Length} characters, RS256 {older.Length}");

        var published = (await keys.GetAsync(default)).Published;
        Assert.Equal(["ES256", "ES256", "RS256", "RS256"], published.Select(k => k.Algorithm).Order());
        foreach (var token in new[] { oldest, older, newest })
        {
            Assert.Equal("", (await tokens.ValidateAsync(token, default)).Reason);
        }

        // A host that starts now (its gateway reads the JWKS) takes tokens of both kinds on a real call.
        await using var later = await TestHost.StartAsync(Database.ConnectionString);
        foreach (var token in new[] { oldest, newest })
        {
            var reply = await later.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithBearer(token));
            Assert.Equal(user.UserId, reply.User!.Id);
        }

        await using var check = new NpgsqlConnection(Database.ConnectionString);
        var stored = await check.QueryAsync<string>("SELECT algorithm FROM auth.signing_keys");
        Assert.Equal(["ES256", "ES256", "RS256", "RS256"], stored.Order());
    }

    [Theory]
    [InlineData("HS256")]
    [InlineData("es256")]
    [InlineData("")]
    public async Task ASigningAlgorithmThePlatformDoesNotSignWith_StopsTheHostAtStart_NamingTheSetting(string algorithm)
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() =>
            TestHost.StartAsync(Database.ConnectionString, o => o.Settings["Auth:SigningAlgorithm"] = algorithm));

        Assert.Contains("Auth:SigningAlgorithm must be one of ES256, RS256", failure.ToString(), StringComparison.Ordinal);
    }

    private static string Algorithm(string token) =>
        System.Text.Json.JsonDocument.Parse(Base64Url.DecodeFromChars(token.AsSpan(0, token.IndexOf('.', StringComparison.Ordinal))))
            .RootElement.GetProperty("alg").GetString()!;
}
