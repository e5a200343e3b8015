using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Auth;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>
/// The Auth service's token handling as an attacker meets it: what ValidateToken says of forged, expired and genuine tokens,
/// and how long a signing key is trusted (reloads, rotation, retirement), with the keys in PostgreSQL and a clock the test moves.
/// </summary>
public sealed class TokenHandlingTests : DatabasePerTest
{
    public static TheoryData<string> Forgeries => new()
    {
        "expired", "not_yet_valid", "no_expiry", "wrong_issuer", "wrong_audience", "tampered", "alg_none", "unknown_kid",
        "platform_kid_other_key", "platform_kid_other_ec_key", "hmac_with_public_key", "garbage",
    };

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task ValidateToken_RefusesEveryForgery_AndSaysExpiredOnlyOfAGenuineExpiredToken(string kind)
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var token = await ForgeAsync(host, kind, user);

        var verdict = await host.Auth().ValidateTokenAsync(new ValidateTokenRequest { AccessToken = token }, user.Bearer);

        Assert.False(verdict.Valid);
        Assert.Equal(kind == "expired" ? "expired" : "invalid_token", verdict.Reason);
        Assert.Null(verdict.User);
        Assert.Null(verdict.ExpiresAt);
    }

    [Fact]
    public async Task ValidateToken_OfAGenuineToken_TellsItsUserAndWhenItExpires_AndNoReason()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();

        var verdict = await host.Auth().ValidateTokenAsync(new ValidateTokenRequest { AccessToken = user.Tokens.AccessToken }, user.Bearer);

        Assert.True(verdict.Valid);
        Assert.Equal("", verdict.Reason);
        Assert.Equal((user.UserId, user.Email), (verdict.User!.UserId, verdict.User.Email));
        Assert.Empty(verdict.User.Roles);
        Assert.Equal(user.Tokens.AccessTokenExpiresAt!.Value, verdict.ExpiresAt!.Value, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task ValidateToken_AfterTheAccountIsDeactivated_SaysRevoked_ForEverySessionOfIt()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var otherSession = (await host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password })).Tokens!;
        var asker = await host.RegisterAsync();

        await host.Users().DeactivateUserAsync(new DeactivateUserRequest { UserId = user.UserId }, user.Bearer);

        foreach (var token in new[] { user.Tokens.AccessToken, otherSession.AccessToken })
        {
            var verdict = await host.Auth().ValidateTokenAsync(new ValidateTokenRequest { AccessToken = token }, asker.Bearer);
            Assert.Equal((false, "revoked"), (verdict.Valid, verdict.Reason));
        }
    }

    [Fact]
    public async Task AToken_IsHonouredForTheClockSkewPastItsExpiry_AndNotASecondLonger()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var options = host.App.Services.GetRequiredService<IOptions<TokenOptions>>().Value;
        var (lifetime, skew) = (options.AccessTokenLifetime, options.ClockSkew);

        // Issued so that it expired (skew + 10 s) ago: expired; (skew - 10 s) ago: inside the skew, still good.
        var (time, _, tokens) = Create(host, DateTimeOffset.UtcNow - lifetime - skew - TimeSpan.FromSeconds(10));
        var (pastSkew, _) = await tokens.IssueAsync(Guid.NewGuid().ToString(), "a@example.com", true, [], "s1", default);
        time.Advance(TimeSpan.FromSeconds(20));
        var (withinSkew, expiresAt) = await tokens.IssueAsync(Guid.NewGuid().ToString(), "a@example.com", true, [], "s2", default);
        Assert.Equal(time.GetUtcNow().UtcDateTime + lifetime, expiresAt);

        Assert.Equal("", (await tokens.ValidateAsync(withinSkew, default)).Reason);
        var expired = await tokens.ValidateAsync(pastSkew, default);
        Assert.Equal((null, null, "expired"), (expired.Identity, expired.ExpiresAt, expired.Reason));
    }

    [Fact]
    public async Task ValidateToken_ReadsAGenuineTokenOfUpTo8192Characters_AndRefusesALongerOneUnread()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();

        foreach (var (length, valid) in new[] { (8192, true), (8193, false) })
        {
            var token = await ForgeAsync(host, $"genuine_{length}", user);
            Assert.Equal(length, token.Length);
            var verdict = await host.Auth().ValidateTokenAsync(new ValidateTokenRequest { AccessToken = token }, user.Bearer);
            Assert.Equal((valid, valid ? "" : "invalid_token"), (verdict.Valid, verdict.Reason));
        }
    }

    [Fact]
    public async Task TheKeySet_IsReloadedEveryThirtySeconds_SoARotationElsewhereArrives_AndReloadingNeverRotates()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var (time, keys, _) = Create(host);
        var (_, otherHost, _) = Create(host);
        var first = (await keys.GetAsync(default)).Signing.Key.KeyId;

        var rotated = await otherHost.RotateAsync(default);

        time.Advance(SigningKeyStore.ReloadInterval - TimeSpan.FromTicks(1));
        Assert.Equal(first, (await keys.GetAsync(default)).Signing.Key.KeyId); // not reloaded yet
        time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(rotated, (await keys.GetAsync(default)).Signing.Key.KeyId);
        for (var i = 0; i < 3; i++)
        {
            time.Advance(SigningKeyStore.ReloadInterval);
            Assert.Equal(rotated, (await keys.GetAsync(default)).Signing.Key.KeyId);
        }

        // Not only at the exact instant: a set older than the interval is never used again.
        var again = await otherHost.RotateAsync(default);
        time.Advance(SigningKeyStore.ReloadInterval + TimeSpan.FromSeconds(1));
        Assert.Equal(again, (await keys.GetAsync(default)).Signing.Key.KeyId);

        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        Assert.Equal((1L, 1L, 2L), await connection.QuerySingleAsync<(long, long, long)>(
            """
            SELECT count(*) FILTER (WHERE activated_at IS NOT NULL AND retired_at IS NULL),
                   count(*) FILTER (WHERE activated_at IS NULL), count(*) FILTER (WHERE retired_at IS NOT NULL)
              FROM auth.signing_keys
            """));
    }

    [Fact]
    public async Task HostsShareTheKeysThroughPostgreSQL_ATokenOneIssues_AnotherVerifies()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var (_, keys, tokens) = Create(host);
        var user = await host.RegisterAsync();
        var (token, _) = await tokens.IssueAsync(user.UserId, user.Email, false, [PlatformRoles.Admin], "s1", default);

        var there = await host.Auth().ValidateTokenAsync(new ValidateTokenRequest { AccessToken = token }, user.Bearer);
        var (here, _, reason) = await tokens.ValidateAsync(user.Tokens.AccessToken, default);

        Assert.True(there.Valid, there.Reason);
        Assert.Equal((user.UserId, false), (there.User!.UserId, there.User.EmailVerified));
        Assert.Equal([PlatformRoles.Admin], there.User.Roles);
        Assert.Equal(("", user.UserId), (reason, here?.FindFirst(PlatformClaims.Subject)?.Value));
        Assert.Equal((await host.App.Services.GetRequiredService<SigningKeyStore>().GetAsync(default)).Signing.Key.KeyId,
            (await keys.GetAsync(default)).Signing.Key.KeyId);
    }

    [Fact]
    public async Task ARetiredKey_IsTrustedForTheTokenLifetimeSkewAndReload_ThenItsTokensAreRefused()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var (time, keys, tokens) = Create(host);
        var (token, _) = await tokens.IssueAsync(Guid.NewGuid().ToString(), "a@example.com", true, [], "s1", default);
        var oldKid = (await keys.GetAsync(default)).Signing.Key.KeyId;
        var newKid = await keys.RotateAsync(default);
        var keepFor = tokens.Options.AccessTokenLifetime + tokens.Options.ClockSkew + SigningKeyStore.ReloadInterval;

        // Retired a little less than keepFor ago: still published, its tokens still verify.
        await RetireAsync(oldKid, keepFor - TimeSpan.FromSeconds(10));
        time.Advance(SigningKeyStore.ReloadInterval);
        var set = await keys.GetAsync(default);
        Assert.Equal(new[] { newKid, oldKid }, set.Published.Where(k => k.ActivatedAt is not null).Select(k => k.Kid));
        Assert.Equal("", (await tokens.ValidateAsync(token, default)).Reason);

        // A little more: gone from the key set and the JWKS, and a token it signed is a forgery like any other.
        await RetireAsync(oldKid, keepFor + TimeSpan.FromSeconds(10));
        time.Advance(SigningKeyStore.ReloadInterval);
        set = await keys.GetAsync(default);
        Assert.DoesNotContain(set.Published, k => k.Kid == oldKid);
        Assert.Null(set.Find(oldKid));
        Assert.Equal("invalid_token", (await tokens.ValidateAsync(token, default)).Reason);
        Assert.Equal(newKid, set.Signing.Key.KeyId);
    }

    [Fact]
    public async Task HostsStartingTogether_CreateOneSigningKeyAndOneNextKey_AndAllSignWithIt()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        await using (var connection = new NpgsqlConnection(Database.ConnectionString))
        {
            await connection.ExecuteAsync("DELETE FROM auth.signing_keys");
        }

        var stores = Enumerable.Range(0, 6).Select(_ => Create(host).Keys).ToList();
        var kids = await Task.WhenAll(stores.Select(async s => (await s.GetAsync(default)).Signing.Key.KeyId));

        Assert.Single(kids.Distinct());
        await using var check = new NpgsqlConnection(Database.ConnectionString);
        Assert.Equal((1L, 1L), await check.QuerySingleAsync<(long, long)>(
            """
            SELECT count(*) FILTER (WHERE activated_at IS NOT NULL), count(*) FILTER (WHERE activated_at IS NULL)
              FROM auth.signing_keys
            """));
    }

    [Fact]
    public async Task AServiceToken_IsReusedUntilAMinuteBeforeItExpires_OnePerServiceAndScopeSet()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var (time, _, tokens) = Create(host);
        var issuer = new ServiceTokenIssuer(tokens, time);

        var first = await issuer.AuthorizationAsync("auth", ["users.provision"], default);
        Assert.StartsWith("Bearer ", first, StringComparison.Ordinal);
        var (identity, _, reason) = await tokens.ValidateAsync(first["Bearer ".Length..], default);
        Assert.Equal("", reason);
        Assert.Equal(("service:auth", "users.provision", "service", PlatformRoles.Service), (
            identity!.FindFirst(PlatformClaims.Subject)?.Value, identity.FindFirst(PlatformClaims.Scope)?.Value,
            identity.FindFirst(PlatformClaims.AuthMethod)?.Value, identity.FindFirst(PlatformClaims.Role)?.Value));

        Assert.NotEqual(first, await issuer.AuthorizationAsync("users", ["users.provision"], default));
        // Each service its own token, whatever its name and scopes spell together ("aut" + "hx" is not "auth" + "x").
        var auth = await issuer.AuthorizationAsync("auth", ["x"], default);
        var aut = await issuer.AuthorizationAsync("aut", ["hx"], default);
        var autIdentity = (await tokens.ValidateAsync(aut["Bearer ".Length..], default)).Identity;
        Assert.Equal("service:aut", autIdentity?.FindFirst(PlatformClaims.Subject)?.Value);
        Assert.NotEqual(auth, aut);
        Assert.NotEqual(first, await issuer.AuthorizationAsync("auth", ["users.provision", "users.read"], default));
        time.Advance(TimeSpan.FromMinutes(4)); // five-minute tokens: one minute left
        Assert.Equal(first, await issuer.AuthorizationAsync("auth", ["users.provision"], default));
        time.Advance(TimeSpan.FromTicks(1));
        var second = await issuer.AuthorizationAsync("auth", ["users.provision"], default);
        Assert.NotEqual(first, second);
        Assert.Equal(second, await issuer.AuthorizationAsync("auth", ["users.provision"], default));
    }

    /// <summary>
    /// A key store and a token service of their own (another host, as it were) on the test's database and clock, with the host's
    /// token options or <paramref name="options"/>.
    /// </summary>
    internal static (FakeTimeProvider Time, SigningKeyStore Keys, TokenService Tokens) Create(TestHost host, DateTimeOffset? start = null,
        TokenOptions? options = null)
    {
        var time = new FakeTimeProvider(start ?? DateTimeOffset.UtcNow);
        var tokenOptions = options ?? host.App.Services.GetRequiredService<IOptions<TokenOptions>>().Value;
        var keys = new SigningKeyStore(host.App.Services.GetRequiredService<NpgsqlDataSource>(), Options.Create(tokenOptions), time);
        var revocations = host.App.Services.GetRequiredService<RevocationList>();
        return (time, keys, new TokenService(keys, Options.Create(tokenOptions), time, revocations));
    }

    private async Task RetireAsync(string kid, TimeSpan ago)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.ExecuteAsync("UPDATE auth.signing_keys SET retired_at = now() - @ago WHERE kid = @kid", new { ago, kid });
    }

    private static async Task<string> ForgeAsync(TestHost host, string kind, TestUser user)
    {
        var options = host.App.Services.GetRequiredService<IOptions<TokenOptions>>().Value;
        var signing = (await host.App.Services.GetRequiredService<SigningKeyStore>().GetAsync(default)).Signing;
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        var now = DateTime.UtcNow;
        var genuine = user.Tokens.AccessToken.Split('.');
        SecurityTokenDescriptor Descriptor(SigningCredentials credentials, string? issuer = null, string? audience = null,
            DateTime? notBefore = null, DateTime? expires = null, bool noExpiry = false) => new()
        {
            Issuer = issuer ?? options.Issuer,
            Audience = audience ?? options.Audience,
            IssuedAt = notBefore ?? now.AddMinutes(-1),
            NotBefore = notBefore ?? now.AddMinutes(-1),
            Expires = noExpiry ? null : expires ?? now.AddMinutes(5),
            Claims = new Dictionary<string, object> { ["sub"] = user.UserId, ["email"] = user.Email, ["sid"] = Guid.NewGuid().ToString() },
            SigningCredentials = credentials,
        };

        if (kind.StartsWith("genuine_", StringComparison.Ordinal))
        {
            // Signed by the platform, padded (payload and header) to exactly this many characters.
            var length = int.Parse(kind["genuine_".Length..], System.Globalization.CultureInfo.InvariantCulture);
            for (var header = 0; header < 4; header++)
            {
                for (var pad = 0; pad < 8; pad++)
                {
                    var descriptor = Descriptor(signing);
                    descriptor.AdditionalHeaderClaims = new Dictionary<string, object> { ["x"] = new string('h', header) };
                    descriptor.Claims["pad"] = "";
                    var bare = handler.CreateToken(descriptor).Length;
                    descriptor.Claims["pad"] = new string('p', Math.Max(0, (length - bare) * 3 / 4 - 3 + pad));
                    var token = handler.CreateToken(descriptor);
                    if (token.Length == length)
                    {
                        return token;
                    }
                }
            }

            throw new InvalidOperationException($"no padding gives {length} characters");
        }

        switch (kind)
        {
            case "expired":
                // Expired beyond the skew.
                return handler.CreateToken(Descriptor(signing, notBefore: now.AddMinutes(-20), expires: now.AddMinutes(-5)));
            case "not_yet_valid":
                return handler.CreateToken(Descriptor(signing, notBefore: now.AddMinutes(5), expires: now.AddMinutes(20)));
            case "no_expiry":
                return handler.CreateToken(Descriptor(signing, noExpiry: true));
            case "wrong_issuer":
                return handler.CreateToken(Descriptor(signing, issuer: "https://evil.example/auth"));
            case "wrong_audience":
                return handler.CreateToken(Descriptor(signing, audience: "someone-else"));
            case "tampered":
            {
                var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(genuine[1]));
                payload = payload.Replace("\"sub\":\"", "\"sub\":\"0", StringComparison.Ordinal);
                return $"{genuine[0]}.{Base64UrlEncoder.Encode(payload)}.{genuine[2]}";
            }

            case "alg_none":
            {
                var header = Base64UrlEncoder.Encode($$"""{"alg":"none","typ":"JWT","kid":"{{signing.Key.KeyId}}"}""");
                return $"{header}.{genuine[1]}.";
            }

            case "unknown_kid":
            {
                using var rsa = RSA.Create(2048);
                var key = new RsaSecurityKey(rsa) { KeyId = "not-a-platform-key" };
                return handler.CreateToken(Descriptor(new SigningCredentials(key, SecurityAlgorithms.RsaSha256)));
            }

            case "platform_kid_other_key":
            {
                // The platform's kid, the attacker's key: the kid picks the key, it never vouches for one.
                using var rsa = RSA.Create(2048);
                var key = new RsaSecurityKey(rsa) { KeyId = signing.Key.KeyId };
                return handler.CreateToken(Descriptor(new SigningCredentials(key, SecurityAlgorithms.RsaSha256)));
            }

            case "platform_kid_other_ec_key":
            {
                // The same, with a key of the signing key's own type and algorithm: only the signature can tell.
                using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                var key = new ECDsaSecurityKey(ecdsa) { KeyId = signing.Key.KeyId };
                return handler.CreateToken(Descriptor(new SigningCredentials(key, SecurityAlgorithms.EcdsaSha256)));
            }

            case "hmac_with_public_key":
            {
                var jwks = await host.Auth().GetJwksAsync(new GetJwksRequest());
                var key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(jwks.JwksJson)) { KeyId = signing.Key.KeyId };
                return handler.CreateToken(Descriptor(new SigningCredentials(key, SecurityAlgorithms.HmacSha256)));
            }

            default:
                return "not.a.jwt";
        }
    }
}
