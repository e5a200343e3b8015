using System.Security.Cryptography;
using System.Text;
using Dapper;
using Google.Rpc;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Auth;
using PyAirtable.Services.Infrastructure.Identity;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>The seed's flow end to end over gRPC: register, login, call with the token; sessions; forged tokens.</summary>
public sealed class AuthenticationTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    internal static ErrorInfo AssertStatus(RpcException ex, StatusCode code, string? cause = null)
    {
        Assert.Equal(code, ex.StatusCode);
        var info = ex.GetRpcStatus()?.GetDetail<ErrorInfo>();
        Assert.NotNull(info);
        Assert.Equal("pyairtable.dev", info.Domain);
        Assert.Equal("ERROR_CODE_" + code switch
        {
            StatusCode.Unauthenticated => "UNAUTHENTICATED",
            StatusCode.PermissionDenied => "PERMISSION_DENIED",
            StatusCode.InvalidArgument => "INVALID_ARGUMENT",
            StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
            StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
            StatusCode.AlreadyExists => "ALREADY_EXISTS",
            StatusCode.NotFound => "NOT_FOUND",
            _ => code.ToString().ToUpperInvariant(),
        }, info.Reason);
        if (cause is not null)
        {
            Assert.Equal(cause, info.Metadata["cause"]);
        }

        return info;
    }

    [Fact]
    public async Task Register_Login_GetUser_WithTheToken()
    {
        var user = await Host.RegisterAsync("Ada Lovelace");

        var response = await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);

        Assert.Equal(user.Email, response.User!.Email);
        Assert.Equal("Ada Lovelace", response.User.DisplayName);
        Assert.Equal(UserStatus.Active, response.User.Status);
        Assert.Equal("Bearer", user.Tokens.TokenType);
        Assert.True(user.Tokens.AccessTokenExpiresAt > DateTime.UtcNow.AddMinutes(10));
    }

    [Fact]
    public async Task NoCredentials_Unauthenticated_WithErrorInfo()
    {
        var user = await Host.RegisterAsync();
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }));
        var info = AssertStatus(ex, StatusCode.Unauthenticated, "missing_credentials");
        Assert.False(string.IsNullOrEmpty(info.Metadata["request_id"]));
    }

    [Fact]
    public async Task AnotherUsersProfile_NotFound_WithoutASharedWorkspace()
    {
        var alice = await Host.RegisterAsync();
        var bob = await Host.RegisterAsync();
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(new GetUserRequest { UserId = bob.UserId }, alice.Bearer));
        AssertStatus(ex, StatusCode.NotFound); // indistinguishable from an id that does not exist
    }

    [Fact]
    public async Task Register_SameEmailTwice_AlreadyExists_AnyCase()
    {
        var user = await Host.RegisterAsync();
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Auth().RegisterAsync(new RegisterRequest { Email = user.Email.ToUpperInvariant(), Password = "another-password-1", DisplayName = "Twin" }));
        Assert.Equal("account", AssertStatus(ex, StatusCode.AlreadyExists).Metadata["resource_type"]); // what a client branches on
    }

    [Fact]
    public async Task Refresh_Rotates_AndReusingASpentTokenEndsTheWholeSession()
    {
        var user = await Host.RegisterAsync();
        var first = user.Tokens.RefreshToken;

        var rotated = (await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = first })).Tokens!;
        Assert.NotEqual(first, rotated.RefreshToken);
        await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithBearer(rotated.AccessToken));

        // The spent token comes back (stolen): refused, and the session is over for everybody.
        var reuse = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = first }));
        AssertStatus(reuse, StatusCode.Unauthenticated, "refresh_token_reused");
        var descendant = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = rotated.RefreshToken }));
        AssertStatus(descendant, StatusCode.Unauthenticated, "revoked");
        var access = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithBearer(rotated.AccessToken)));
        AssertStatus(access, StatusCode.Unauthenticated, "revoked");

        // Another session of the same user is untouched.
        var other = await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password });
        await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithBearer(other.Tokens!.AccessToken));
    }

    [Fact]
    public async Task Logout_EndsTheSession_AccessAndRefreshTokensStopWorking()
    {
        var user = await Host.RegisterAsync();

        await Host.Auth().LogoutAsync(new LogoutRequest(), user.Bearer);

        var access = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer));
        AssertStatus(access, StatusCode.Unauthenticated, "revoked");
        var refresh = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = user.Tokens.RefreshToken }));
        AssertStatus(refresh, StatusCode.Unauthenticated, "revoked");
    }

    [Fact]
    public async Task Login_WrongPassword_Unauthenticated_UnknownEmailTheSame()
    {
        var user = await Host.RegisterAsync();
        var wrong = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = "not-the-password" }));
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().LoginAsync(new LoginRequest { Email = Identities.NewEmail(), Password = "not-the-password" }));
        AssertStatus(wrong, StatusCode.Unauthenticated);
        AssertStatus(unknown, StatusCode.Unauthenticated);
        Assert.Equal(wrong.Status.Detail, unknown.Status.Detail); // no account enumeration through the message
    }

    public static TheoryData<string> ForgedTokens => new() { "expired", "tampered", "wrong_issuer", "wrong_audience", "alg_none", "unknown_kid", "hmac_with_public_key", "garbage" };

    [Theory]
    [MemberData(nameof(ForgedTokens))]
    public async Task ForgedOrInvalidToken_Unauthenticated(string kind)
    {
        var user = await Host.RegisterAsync();
        var token = await ForgeAsync(kind, user);

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, Identities.WithBearer(token)));

        AssertStatus(ex, StatusCode.Unauthenticated, kind == "expired" ? "expired" : "invalid_token");
        // The genuine token still works: the refusal is about the forged one.
        await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer);
    }

    private async Task<string> ForgeAsync(string kind, TestUser user)
    {
        var keys = Host.App.Services.GetRequiredService<SigningKeyStore>();
        var options = Host.App.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<TokenOptions>>().Value;
        var signing = (await keys.GetAsync(CancellationToken.None)).Signing;
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        var now = DateTime.UtcNow;
        SecurityTokenDescriptor Descriptor(SigningCredentials credentials, string? issuer = null, string? audience = null, DateTime? expires = null) => new()
        {
            Issuer = issuer ?? options.Issuer,
            Audience = audience ?? options.Audience,
            IssuedAt = (expires ?? now.AddMinutes(5)).AddMinutes(-10),
            NotBefore = (expires ?? now.AddMinutes(5)).AddMinutes(-10),
            Expires = expires ?? now.AddMinutes(5),
            Claims = new Dictionary<string, object> { ["sub"] = user.UserId, ["email"] = user.Email, ["sid"] = Guid.NewGuid().ToString() },
            SigningCredentials = credentials,
        };

        switch (kind)
        {
            case "expired":
                return handler.CreateToken(Descriptor(signing, expires: now.AddMinutes(-5))); // beyond the 30 s skew
            case "wrong_issuer":
                return handler.CreateToken(Descriptor(signing, issuer: "https://evil.example/auth"));
            case "wrong_audience":
                return handler.CreateToken(Descriptor(signing, audience: "someone-else"));
            case "tampered":
            {
                var parts = user.Tokens.AccessToken.Split('.');
                var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1]));
                payload = payload.Replace("\"sub\":\"", "\"sub\":\"0", StringComparison.Ordinal);
                return $"{parts[0]}.{Base64UrlEncoder.Encode(payload)}.{parts[2]}";
            }

            case "alg_none":
            {
                var header = Base64UrlEncoder.Encode($$"""{"alg":"none","typ":"JWT","kid":"{{signing.Key.KeyId}}"}""");
                var payload = user.Tokens.AccessToken.Split('.')[1];
                return $"{header}.{payload}.";
            }

            case "unknown_kid":
            {
                using var rsa = RSA.Create(2048);
                return handler.CreateToken(Descriptor(new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = "not-a-platform-key" }, SecurityAlgorithms.RsaSha256)));
            }

            case "hmac_with_public_key":
            {
                // The classic confusion: HS256 keyed with the public key, under the real kid.
                var jwks = await Host.Auth().GetJwksAsync(new GetJwksRequest());
                var secret = Encoding.UTF8.GetBytes(jwks.JwksJson);
                var key = new SymmetricSecurityKey(secret) { KeyId = signing.Key.KeyId };
                return handler.CreateToken(Descriptor(new SigningCredentials(key, SecurityAlgorithms.HmacSha256)));
            }

            default:
                return "not.a.jwt";
        }
    }

    [Fact]
    public async Task KeyRotation_OldTokensStayValid_NewTokensUseTheNewKey()
    {
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var before = await Host.RegisterAsync();
        var oldKid = ReadKid(before.Tokens.AccessToken);

        var rotated = await Host.Auth().RotateSigningKeyAsync(new RotateSigningKeyRequest(), admin.Bearer);
        var after = await Host.Auth().LoginAsync(new LoginRequest { Email = before.Email, Password = before.Password });

        Assert.NotEqual(oldKid, rotated.Kid);
        Assert.Equal(rotated.Kid, ReadKid(after.Tokens!.AccessToken));
        await Host.Users().GetUserAsync(new GetUserRequest { UserId = before.UserId }, before.Bearer); // old key, still valid
        await Host.Users().GetUserAsync(new GetUserRequest { UserId = before.UserId }, Identities.WithBearer(after.Tokens.AccessToken));
        var jwks = await Host.Auth().GetJwksAsync(new GetJwksRequest());
        Assert.Contains(jwks.Keys, k => k.Kid == oldKid);
        Assert.Equal(rotated.Kid, jwks.Keys[0].Kid);
        Assert.Equal(3, jwks.Keys.Count); // signing, retired-but-valid, next

        var denied = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().RotateSigningKeyAsync(new RotateSigningKeyRequest(), before.Bearer));
        AssertStatus(denied, StatusCode.PermissionDenied);
    }

    [Fact]
    public async Task Jwks_VerifiesTheAccessToken_WithAStandardLibrary()
    {
        var user = await Host.RegisterAsync();
        var jwks = await Host.Auth().GetJwksAsync(new GetJwksRequest());

        var keys = new JsonWebKeySet(jwks.JwksJson).GetSigningKeys();
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(user.Tokens.AccessToken, new TokenValidationParameters
        {
            ValidIssuer = jwks.Issuer,
            ValidAudience = jwks.Audience,
            IssuerSigningKeys = keys,
            ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
        });

        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal(user.UserId, result.Claims["sub"]);
    }

    [Fact]
    public async Task ValidateToken_AnswersForAccessTokensAndApiKeys()
    {
        var user = await Host.RegisterAsync();
        var valid = await Host.Auth().ValidateTokenAsync(new ValidateTokenRequest { AccessToken = user.Tokens.AccessToken }, user.Bearer);
        Assert.True(valid.Valid);
        Assert.Equal(user.UserId, valid.User!.UserId);
        Assert.Equal(PyAirtable.Contracts.Common.AuthMethod.Jwt, valid.User.AuthMethod);

        var invalid = await Host.Auth().ValidateTokenAsync(new ValidateTokenRequest { AccessToken = "x.y.z" }, user.Bearer);
        Assert.False(invalid.Valid);
        Assert.Equal("invalid_token", invalid.Reason);
    }

    [Fact]
    public async Task Lockout_AfterRepeatedFailures_ResourceExhaustedWithRetryDelay_ThenRecovers()
    {
        // The second host starts first: starting one under load can take longer than the lockout window.
        await using var second = await TestHost.StartAsync(fixture.Database.ConnectionString, o =>
        {
            o.Settings["Auth:Lockout:MaxFailuresPerPair"] = IdentityFixture.MaxFailures.ToString(System.Globalization.CultureInfo.InvariantCulture);
            o.Settings["Redis:InstanceName"] = fixture.Host.App.Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>()["Redis:InstanceName"];
        });
        var user = await Host.RegisterAsync();
        for (var i = 0; i < IdentityFixture.MaxFailures; i++)
        {
            var wrong = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = "wrong-password-" + i }));
            AssertStatus(wrong, StatusCode.Unauthenticated);
        }

        // Even the right password is refused now, with the time to wait.
        var locked = await Assert.ThrowsAsync<RpcException>(async () => await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password }));
        AssertStatus(locked, StatusCode.ResourceExhausted);
        var retry = locked.GetRpcStatus()!.GetDetail<RetryInfo>();
        Assert.NotNull(retry);
        Assert.InRange(retry.RetryDelay.ToTimeSpan(), TimeSpan.FromMilliseconds(1), IdentityFixture.LockoutWindow);

        // The limit lives in Redis: the second host sees it too.
        var elsewhere = await Assert.ThrowsAsync<RpcException>(async () => await second.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password }));
        AssertStatus(elsewhere, StatusCode.ResourceExhausted);

        await Task.Delay(retry.RetryDelay.ToTimeSpan() + TimeSpan.FromMilliseconds(200));
        var login = await Host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password });
        Assert.Equal(user.UserId, login.UserId);
    }

    [Fact]
    public async Task OrphanProfile_DoesNotBlockTheEmailForever()
    {
        var email = Identities.NewEmail();
        // What a lost CreateUser reply leaves behind: a profile whose account was rolled back.
        await using (var connection = new NpgsqlConnection(fixture.Database.ConnectionString))
        {
            await connection.ExecuteAsync("INSERT INTO users.users (id, email, display_name) VALUES (gen_random_uuid(), @email, 'Orphan')", new { email });
        }

        var registered = await Host.Auth().RegisterAsync(new RegisterRequest { Email = email, Password = "a-long-password", DisplayName = "Owner" });
        var login = await Host.Auth().LoginAsync(new LoginRequest { Email = email, Password = "a-long-password" });
        var me = await Host.Users().GetUserAsync(new GetUserRequest { UserId = registered.UserId }, Identities.WithBearer(login.Tokens!.AccessToken));
        Assert.Equal("Owner", me.User!.DisplayName);
    }

    private static string ReadKid(string token) => new JsonWebToken(token).Kid;
}
