using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using PyAirtable.Contracts.Common;
using PyAirtable.Host.Gateway.Authentication;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.UnitTests;

/// <summary>
/// The gateway's kept credentials (bearer tokens, API keys) without a host: how it reads the authorization header, what it keeps
/// and for how long, its bound, what it derives from a credential once, and its authorization shortcut.
/// </summary>
public sealed class VerifiedCredentialTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void AVerifiedToken_IsKeptWithItsUser_ItsSession_AndItsRoles()
    {
        var cache = new ValidatedTokenCache(new FakeTimeProvider(Start));
        cache.Add("t1", Principal(new Claim(PlatformClaims.Subject, "u1"), new Claim(PlatformClaims.SessionId, "s1"),
            new Claim(PlatformClaims.Role, "member")), Start.UtcDateTime.AddMinutes(5));

        Assert.True(cache.TryGet("t1".AsSpan(), out var entry));
        Assert.Equal("u1", entry.Subject);
        Assert.Equal(RevocationList.Session("s1"), entry.CredentialKey);
        Assert.Equal("u1", entry.Identity.Name); // the subject names the caller
        Assert.True(new ClaimsPrincipal(entry.Identity).IsInRole("member")); // roles are read from the platform's role claim
        Assert.True(entry.Identity.IsAuthenticated);
        Assert.False(cache.TryGet("t2".AsSpan(), out _));
    }

    [Fact]
    public void AVerifiedTokenWithoutSubjectOrSession_IsKeptAsNobody_SoTheRevocationCheckRefusesIt()
    {
        var cache = new ValidatedTokenCache(new FakeTimeProvider(Start));
        cache.Add("t1", Principal(new Claim(PlatformClaims.Email, "a@example.com")), Start.UtcDateTime.AddMinutes(5));

        Assert.True(cache.TryGet("t1".AsSpan(), out var entry));
        Assert.Equal("", entry.Subject); // an empty subject is refused as revoked (GatewayAuthentication.IsRevokedAsync)
        Assert.Equal(RevocationList.Session(""), entry.CredentialKey);
    }

    [Fact]
    public void AKeptToken_IsFoundByTheSpanOfTheHeader_UntilTheMomentItExpires()
    {
        var time = new FakeTimeProvider(Start);
        var cache = new ValidatedTokenCache(time);
        cache.Add("eyJ.token.sig", Principal(new Claim(PlatformClaims.Subject, "u1"), new Claim(PlatformClaims.SessionId, "s1")),
            Start.UtcDateTime.AddMinutes(5));

        var header = "Bearer eyJ.token.sig";
        Assert.True(cache.TryGet(GatewayAuthenticationMiddleware.BearerTokenSpan(header), out var credential));
        Assert.Equal("u1", credential.Subject);
        Assert.False(cache.TryGet("eyJ.token.si".AsSpan(), out _));
        Assert.False(cache.TryGet("eyJ.token.sig2".AsSpan(), out _));

        time.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromTicks(1));
        Assert.True(cache.TryGet("eyJ.token.sig".AsSpan(), out _));
        time.Advance(TimeSpan.FromTicks(1));
        Assert.False(cache.TryGet("eyJ.token.sig".AsSpan(), out _)); // expired: gone, and verified again in full if presented
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void AnExpiredToken_IsNotKept_NorOneExpiringThisInstant()
    {
        var time = new FakeTimeProvider(Start);
        var cache = new ValidatedTokenCache(time);
        cache.Add("old", Principal(new Claim(PlatformClaims.Subject, "u1")), Start.UtcDateTime.AddSeconds(-1));
        cache.Add("now", Principal(new Claim(PlatformClaims.Subject, "u1")), Start.UtcDateTime);
        Assert.Equal(0, cache.Count); // not even held until the next lookup
        Assert.False(cache.TryGet("old".AsSpan(), out _));
        Assert.False(cache.TryGet("now".AsSpan(), out _));
    }

    [Theory]
    [InlineData("Bearer abc.def.ghi", "abc.def.ghi")]
    [InlineData("Bearer abc", "abc")]
    [InlineData("bearer abc", "abc")] // the scheme in any case
    [InlineData("BEARER   abc  ", "abc")]
    [InlineData("bearer  abc ", "abc")]
    [InlineData("Basic dXNlcjpwdw==", null)]
    [InlineData("Basic abc", null)]
    [InlineData("Bearer", null)]
    [InlineData("Bearer    ", null)] // the scheme without a token
    [InlineData("Bearerabc", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void BearerToken_TakesTheTokenOfABearerHeaderOnly(string? header, string? token)
    {
        Assert.Equal(token ?? "", GatewayAuthenticationMiddleware.BearerTokenSpan(header).ToString());
        if (header is not null)
        {
            Assert.Equal(token, GatewayAuthenticationMiddleware.BearerToken(header));
        }
    }

    [Fact]
    public void AToken_VerifiedAgain_IsKeptWithTheNewerVerdict_WhetherOrNotTheOldOneHadExpired()
    {
        var time = new FakeTimeProvider(Start);
        var cache = new ValidatedTokenCache(time);
        cache.Add("t", Principal(new Claim(PlatformClaims.Subject, "u1")), Start.UtcDateTime.AddMinutes(1));
        cache.Add("t", Principal(new Claim(PlatformClaims.Subject, "u2")), Start.UtcDateTime.AddMinutes(5));
        Assert.True(cache.TryGet("t".AsSpan(), out var credential));
        Assert.Equal("u2", credential.Subject);

        time.Advance(TimeSpan.FromMinutes(6)); // expired here, not looked up since: still held
        cache.Add("t", Principal(new Claim(PlatformClaims.Subject, "u3")), Start.UtcDateTime.AddMinutes(10));
        Assert.True(cache.TryGet("t".AsSpan(), out credential));
        Assert.Equal("u3", credential.Subject);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void AFloodOfCurrentTokens_KeepsAtMostTheBound_ThenDropsAQuarter()
    {
        var cache = new ValidatedTokenCache(new FakeTimeProvider(Start));
        var principal = Principal(new Claim(PlatformClaims.Subject, "u1"));
        for (var i = 0; i < VerifiedCredentialCache.MaxEntries; i++)
        {
            cache.Add("t" + i, principal, Start.UtcDateTime.AddHours(1));
        }

        Assert.Equal(VerifiedCredentialCache.MaxEntries, cache.Count); // the bound itself is held
        cache.Add("newest", principal, Start.UtcDateTime.AddHours(1)); // one over: a quarter goes (verified again when used)
        Assert.Equal(VerifiedCredentialCache.MaxEntries * 3 / 4, cache.Count);
        var found = Enumerable.Range(0, VerifiedCredentialCache.MaxEntries).Count(i => cache.TryGet(("t" + i).AsSpan(), out _))
            + (cache.TryGet("newest".AsSpan(), out _) ? 1 : 0);
        Assert.Equal(cache.Count, found); // the count is what is held
    }

    [Fact]
    public void AFloodOverTheBound_DropsExpiredTokensFirst_AndNoCurrentOneWhenThatIsEnough()
    {
        var time = new FakeTimeProvider(Start);
        var cache = new ValidatedTokenCache(time);
        var principal = Principal(new Claim(PlatformClaims.Subject, "u1"));
        const int Expiring = 30_000;
        for (var i = 0; i < Expiring; i++)
        {
            cache.Add("old" + i, principal, Start.UtcDateTime.AddSeconds(1));
        }

        for (var i = 0; i < VerifiedCredentialCache.MaxEntries - Expiring; i++)
        {
            cache.Add("t" + i, principal, Start.UtcDateTime.AddHours(1));
        }

        time.Advance(TimeSpan.FromSeconds(1)); // the old ones expire at this very instant
        cache.Add("newest", principal, Start.UtcDateTime.AddHours(1));
        Assert.Equal(VerifiedCredentialCache.MaxEntries - Expiring + 1, cache.Count);
        Assert.Equal(VerifiedCredentialCache.MaxEntries - Expiring, Enumerable.Range(0, VerifiedCredentialCache.MaxEntries - Expiring)
            .Count(i => cache.TryGet(("t" + i).AsSpan(), out _)));
        Assert.True(cache.TryGet("newest".AsSpan(), out _));
    }

    [Fact]
    public void ASharedIdentity_RefusesChanges()
    {
        var subject = new Claim(PlatformClaims.Subject, "u1");
        var identity = new ReadOnlyClaimsIdentity([subject], "Bearer");
        var admin = new Claim(PlatformClaims.Role, PlatformRoles.Admin);
        Assert.Throws<InvalidOperationException>(() => identity.AddClaim(admin));
        Assert.Throws<InvalidOperationException>(() => identity.AddClaims([admin]));
        Assert.Throws<InvalidOperationException>(() => identity.RemoveClaim(identity.FindFirst(PlatformClaims.Subject)));
        Assert.False(identity.TryRemoveClaim(identity.FindFirst(PlatformClaims.Subject)));

        Assert.Equal("u1", Assert.Single(identity.Claims).Value);
        Assert.False(new ClaimsPrincipal(identity).IsInRole(PlatformRoles.Admin));
        Assert.Equal("u1", identity.Caller.UserContext.UserId);
    }

    [Fact]
    public void AKeptApiKey_IsFoundByItsSecret_AndNothingElseIs()
    {
        var time = new FakeTimeProvider(Start);
        var cache = new VerifiedApiKeyCache(time);
        var secret = "pat_" + new string('A', 43);
        var other = "pat_" + new string('B', 43);
        cache.Add(secret, Credential(), Start.AddMinutes(1));

        Assert.True(cache.TryGet(secret, out var found));
        Assert.Equal("u1", found.Subject);
        Assert.False(cache.TryGet(other, out _));
        Assert.False(cache.TryGet("pat_short", out _));
        Assert.False(cache.TryGet(null, out _));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(cache.TryGet(secret, out _));
    }

    [Fact]
    public void TheVerifiedCaller_IsDerivedOnceFromTheClaims()
    {
        var key = new ReadOnlyClaimsIdentity([
            new Claim(PlatformClaims.Subject, "u1"), new Claim(PlatformClaims.Email, "a@example.com"),
            new Claim(PlatformClaims.AuthMethod, "api_key"), new Claim(PlatformClaims.ApiKeyId, "k1"),
            new Claim(PlatformClaims.Scope, "users:read"), new Claim(PlatformClaims.Scope, "bases:read"),
        ], "ApiKey").Caller;
        Assert.Equal(AuthMethod.ApiKey, key.UserContext.AuthMethod);
        Assert.Equal("k1", key.UserContext.CredentialId);
        Assert.Equal(["users:read", "bases:read"], key.Scopes);
        Assert.True(key.Holds("users:read"));
        Assert.False(key.Holds("users:write"));
        Assert.False(key.IsService);
        Assert.Equal("reads:credential:key:k1", key.PartitionOf("reads"));
        Assert.Same(key.PartitionOf("reads"), key.PartitionOf("reads"));

        var token = new ReadOnlyClaimsIdentity([
            new Claim(PlatformClaims.Subject, "u2"), new Claim(PlatformClaims.SessionId, "s2"),
            new Claim(PlatformClaims.Role, PlatformRoles.Service), new Claim(PlatformClaims.Scope, "a b"),
        ], "Bearer").Caller;
        Assert.Equal(["a", "b"], token.Scopes); // a JWT carries its scopes space separated in one claim
        Assert.True(token.IsService);
        Assert.Equal("writes:credential:user:u2", token.PartitionOf("writes"));

        var unrestricted = new ReadOnlyClaimsIdentity([new Claim(PlatformClaims.Subject, "u3")], "Bearer").Caller;
        Assert.True(unrestricted.Holds("anything"));
    }

    [Fact]
    public void CallerOf_IsTheCachedCallerOnlyForAPrincipalOfThatIdentityAlone()
    {
        var identity = new ReadOnlyClaimsIdentity([new Claim(PlatformClaims.Subject, "u1")], "Bearer");
        Assert.Same(identity.Caller, ReadOnlyClaimsIdentity.CallerOf(new ClaimsPrincipal(identity)));

        var added = new ClaimsPrincipal(identity);
        added.AddIdentity(new ClaimsIdentity([new Claim(PlatformClaims.Role, PlatformRoles.Admin)], "other"));
        Assert.Null(ReadOnlyClaimsIdentity.CallerOf(added)); // its claims are read as for any principal
        Assert.Null(ReadOnlyClaimsIdentity.CallerOf(Principal(new Claim(PlatformClaims.Subject, "u1"))));
        Assert.Null(ReadOnlyClaimsIdentity.CallerOf(new ClaimsPrincipal()));
    }

    [Fact]
    public void TheAuthorizationShortcut_TakesOnlyPoliciesOfAuthenticationAndScopes()
    {
        var endpoint = new Endpoint(null, new EndpointMetadataCollection(), "rpc");
        var authenticated = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();
        Assert.Equal([], EndpointPolicies.SimpleScopes(endpoint, authenticated)!);

        var scoped = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().AddRequirements(new ScopeRequirement("users:read")).Build();
        Assert.Equal(["users:read"], EndpointPolicies.SimpleScopes(endpoint, scoped)!);

        // Anything the shortcut cannot decide the way the authorization handlers would stays with the middleware.
        Assert.Null(EndpointPolicies.SimpleScopes(endpoint, new AuthorizationPolicyBuilder().AddRequirements(new ScopeRequirement("x")).Build()));
        Assert.Null(EndpointPolicies.SimpleScopes(endpoint, new AuthorizationPolicyBuilder().RequireAuthenticatedUser().RequireRole("admin").Build()));
        Assert.Null(EndpointPolicies.SimpleScopes(endpoint,
            new AuthorizationPolicyBuilder("Bearer").RequireAuthenticatedUser().Build()));
        Assert.Null(EndpointPolicies.SimpleScopes(endpoint, new AuthorizationPolicyBuilder().RequireAssertion(_ => true).Build()));
        var anonymous = new Endpoint(null, new EndpointMetadataCollection(new AllowAnonymousAttribute()), "public");
        Assert.Null(EndpointPolicies.SimpleScopes(anonymous, authenticated));
        Assert.IsType<DenyAnonymousAuthorizationRequirement>(Assert.Single(authenticated.Requirements));
    }

    private static ClaimsPrincipal Principal(params Claim[] claims) => new(new ClaimsIdentity(claims, "Bearer"));

    private static VerifiedCredential Credential() =>
        new(new ReadOnlyClaimsIdentity([new Claim(PlatformClaims.Subject, "u1")], "ApiKey"), "u1", "key:k1");
}
