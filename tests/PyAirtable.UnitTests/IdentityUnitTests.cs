using System.Security.Claims;
using Microsoft.Extensions.Time.Testing;
using PyAirtable.Contracts.Common;
using PyAirtable.Host.Gateway.Authentication;
using PyAirtable.Services.Auth;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.UnitTests;

public sealed class IdentityUnitTests
{
    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::/64")]
    [InlineData("not-an-ip", "not-an-ip")]
    public void ClientBucket_GroupsIPv6ByItsSlash64(string ip, string bucket) =>
        Assert.Equal(bucket, LoginThrottle.ClientBucket(ip));

    [Fact]
    public async Task LoginThrottle_CountsAnIPv6SiteAsOneNetwork_WhateverItsSlash64s()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new LockoutOptions { MaxFailuresPerNetwork = 3, MaxFailuresPerClient = 100 });
        await using var unused = Npgsql.NpgsqlDataSource.Create("Host=127.0.0.1;Port=1"); // only asked about known clients
        var throttle = new LoginThrottle(new MemorySharedState(TimeProvider.System), unused, options, TimeProvider.System);
        for (var i = 1; i <= 3; i++)
        {
            await throttle.BeforeAttemptAsync($"user{i}@example.com", $"2001:db8:1234:{i}::1", CancellationToken.None);
        }

        var refused = await Assert.ThrowsAsync<PyAirtable.Services.Infrastructure.Errors.PlatformException>(() =>
            throttle.BeforeAttemptAsync("user4@example.com", "2001:db8:1234:4::1", CancellationToken.None));
        Assert.Equal("network", refused.Metadata["limit"]);

        // Another /48 is not affected.
        await throttle.BeforeAttemptAsync("user5@example.com", "2001:db8:5678:1::1", CancellationToken.None);
    }

    [Theory]
    [InlineData("2001:db8:1234:5678:9abc::1", "2001:db8:1234::/48")]
    [InlineData("2001:db8:1234:ffff::2", "2001:db8:1234::/48")]
    [InlineData("203.0.113.7", null)]
    [InlineData("::ffff:203.0.113.7", null)]
    [InlineData("", null)]
    public void NetworkBucket_GroupsIPv6ByItsSlash48_AndLeavesIPv4Alone(string ip, string? network) =>
        Assert.Equal(network, LoginThrottle.NetworkBucket(ip));

    [Theory]
    [InlineData("pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", true)]
    [InlineData("pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-_", true)]
    [InlineData("pat_AAAA", false)]
    [InlineData("rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", false)]
    [InlineData("pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' ", false)]
    [InlineData("pat_'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", false)] // the first character after the prefix counts too
    [InlineData("", false)]
    [InlineData(null, false)]
    public void ApiKeyShape_IsCheckedBeforeAnyLookup(string? key, bool looksLikeOne) =>
        Assert.Equal(looksLikeOne, ApiKeyAuthenticationHandler.LooksLikeApiKey(key));

    [Theory]
    [InlineData("eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.e30.sig", "abc")]
    [InlineData("eyJhbGciOiJub25lIn0.e30.", null)]
    [InlineData("bm90IGpzb24.e30.x", null)]
    [InlineData("no-dots", null)]
    [InlineData("!!!.e30.x", null)]
    [InlineData("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsyIn0.e30.x", "k2")] // after other members
    [InlineData("eyJ4Ijp7ImtpZCI6ImlubmVyIn0sImtpZCI6Im91dGVyIn0.e30.x", "outer")] // a nested kid is not the header's
    [InlineData("eyJhbGciOiJSUzI1NiJ9.e30.x", null)] // no kid
    [InlineData("eyJraWQiOjV9.e30.x", null)] // a kid that is not a string
    [InlineData("WyJraWQiXQ.e30.x", null)] // not an object
    [InlineData("eyJraWQi.e30.x", null)] // cut short
    [InlineData(".e30.x", null)] // no header
    public void ReadKid_TakesTheHeaderOnly_AndNeverThrows(string token, string? kid) =>
        Assert.Equal(kid, SigningKeyCache.ReadKid(token));

    [Fact]
    public void ReadKid_ReadsAHeaderOfUpTo2048Characters_AndNoLonger()
    {
        static string Header(int bytes) => System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(
            "{\"kid\":\"long\",\"p\":\"" + new string('x', bytes - 21) + "\"}"));

        Assert.Equal(2048, Header(1536).Length);
        Assert.Equal("long", SigningKeyCache.ReadKid(Header(1536) + ".e30.x"));
        Assert.Equal(2052, Header(1539).Length);
        Assert.Null(SigningKeyCache.ReadKid(Header(1539) + ".e30.x")); // longer than any header the Auth service writes: not read
    }

    [Fact]
    public void UserContext_FromClaims_SplitsScopes_AndTellsApiKeysFromSessions()
    {
        var apiKey = new ClaimsPrincipal(new ClaimsIdentity(
        [
            new Claim("sub", "u1"), new Claim("email", "a@b.c"), new Claim("auth_method", "api_key"),
            new Claim("api_key_id", "k1"), new Claim("scope", "users:read"), new Claim("scope", "users:write"), new Claim("role", "admin"),
        ], "test"));
        var jwt = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "u2"), new Claim("sid", "s1"), new Claim("scope", "a b")], "test"));

        var key = PlatformClaims.ToUserContext(apiKey.Claims);
        var session = PlatformClaims.ToUserContext(jwt.Claims);

        Assert.Equal((AuthMethod.ApiKey, "k1"), (key.AuthMethod, key.CredentialId));
        Assert.Equal(["users:read", "users:write"], key.Scopes);
        Assert.Equal(["admin"], key.Roles);
        Assert.Equal((AuthMethod.Jwt, "s1"), (session.AuthMethod, session.CredentialId));
        Assert.Equal(["a", "b"], session.Scopes);
    }

    [Theory]
    [InlineData("Ada@Example.com", true)]
    [InlineData("o'brien+tag@mail.example.co.uk", true)]
    [InlineData("x' OR 1=1 --", false)]
    [InlineData("a@b", false)]
    [InlineData("a b@example.com", false)]
    [InlineData("a@exa_mple.com", false)]
    [InlineData("a@@example.com", false)]
    public void Email_Rule(string email, bool valid) =>
        Assert.Equal(valid, new RequestValidator().Email("email", Validation.NormalizeEmail(email)).IsValid);

    [Fact]
    public async Task MemorySharedState_VersionedEntries_NeverGoBack_AndCountersExpire()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var state = new MemorySharedState(time);

        Assert.True(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(2, [2]), TimeSpan.FromMinutes(1)));
        Assert.False(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(1, [1]), TimeSpan.FromMinutes(1)));
        Assert.False(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(2, [9]), TimeSpan.FromMinutes(1)));
        Assert.Equal(2, (await state.GetVersionedAsync("k"))!.Value.Version);

        Assert.Equal(1, (await state.IncrementAsync("c", TimeSpan.FromSeconds(10))).Count);
        Assert.Equal(2, (await state.IncrementAsync("c", TimeSpan.FromSeconds(10))).Count);
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(0, (await state.GetCounterAsync("c")).Count);
        Assert.Equal(1, (await state.IncrementAsync("c", TimeSpan.FromSeconds(10))).Count); // a new window
    }

    [Fact]
    public void AVerifiedTokensSharedIdentityAndPrincipal_RefuseChanges()
    {
        var identity = new ReadOnlyClaimsIdentity([new Claim(PlatformClaims.Subject, "u1"), new Claim(PlatformClaims.Role, "member")], "Bearer");
        Assert.True(identity.IsAuthenticated);
        Assert.Throws<InvalidOperationException>(() => identity.AddClaim(new Claim(PlatformClaims.Role, PlatformRoles.Admin)));
        Assert.Throws<InvalidOperationException>(() => identity.AddClaims([new Claim(PlatformClaims.Role, PlatformRoles.Admin)]));
        Assert.Throws<InvalidOperationException>(() => identity.RemoveClaim(identity.FindFirst(PlatformClaims.Role)));
        Assert.False(identity.TryRemoveClaim(identity.FindFirst(PlatformClaims.Role)));
        Assert.Equal(["u1", "member"], identity.Claims.Select(c => c.Value));

        // Every call that presents the credential gets its one principal: a call cannot add an identity to what the next call is.
        var credential = new VerifiedCredential(identity, "u1", "revoked:session:s1");
        Assert.Same(credential.Principal, credential.Principal);
        Assert.Throws<InvalidOperationException>(() =>
            credential.Principal.AddIdentity(new ClaimsIdentity([new Claim(PlatformClaims.Role, PlatformRoles.Admin)])));
        Assert.Throws<InvalidOperationException>(() =>
            credential.Principal.AddIdentities([new ClaimsIdentity([new Claim(PlatformClaims.Role, PlatformRoles.Admin)])]));
        Assert.False(credential.Principal.IsInRole(PlatformRoles.Admin));
        Assert.Equal("u1", credential.Principal.Identity!.Name);
        Assert.Same(identity.Caller, ReadOnlyClaimsIdentity.CallerOf(credential.Principal));
    }
}
