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
        Assert.False(cache.TryGet("old".AsSpan(), out _));
        Assert.False(cache.TryGet("now".AsSpan(), out _));
        Assert.Equal(0, cache.Count);
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
    public void AFloodOfDistinctTokens_StaysBounded_DroppingExpiredEntriesFirst()
    {
        var time = new FakeTimeProvider(Start);
        var cache = new ValidatedTokenCache(time);
        var principal = Principal(new Claim(PlatformClaims.Subject, "u1"));
        cache.Add("short-lived", principal, Start.UtcDateTime.AddSeconds(1));
        for (var i = 0; i < VerifiedCredentialCache.MaxEntries - 1; i++)
        {
            cache.Add("t" + i, principal, Start.UtcDateTime.AddHours(1));
        }

        Assert.Equal(VerifiedCredentialCache.MaxEntries, cache.Count);
        time.Advance(TimeSpan.FromSeconds(2));
        cache.Add("newest", principal, Start.UtcDateTime.AddHours(1)); // over the bound: the expired entry goes, then a quarter of the rest
        Assert.InRange(cache.Count, 1, VerifiedCredentialCache.MaxEntries * 3 / 4);
        var found = Enumerable.Range(0, VerifiedCredentialCache.MaxEntries - 1).Count(i => cache.TryGet(("t" + i).AsSpan(), out _))
            + (cache.TryGet("newest".AsSpan(), out _) ? 1 : 0);
        Assert.Equal(cache.Count, found); // the count is what is held
        Assert.False(cache.TryGet("short-lived".AsSpan(), out _));
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
