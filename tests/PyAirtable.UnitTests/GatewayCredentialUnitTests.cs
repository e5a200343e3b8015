using System.Security.Claims;
using PyAirtable.Host.Gateway.Authentication;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.UnitTests;

/// <summary>What the gateway keeps of a verified credential, and how it reads the authorization header, without a host.</summary>
public sealed class GatewayCredentialUnitTests
{
    private static ClaimsPrincipal Principal(params (string Type, string Value)[] claims) =>
        new(new ClaimsIdentity(claims.Select(c => new Claim(c.Type, c.Value)), "Bearer"));

    [Fact]
    public void AVerifiedToken_IsKeptWithItsUser_ItsSession_AndItsRoles()
    {
        var cache = new ValidatedTokenCache(TimeProvider.System);
        cache.Add("t1", Principal((PlatformClaims.Subject, "u1"), (PlatformClaims.SessionId, "s1"), (PlatformClaims.Role, "member")),
            DateTime.UtcNow.AddMinutes(5));

        Assert.True(cache.TryGet("t1", out var entry));
        Assert.Equal("u1", entry.Subject);
        Assert.Equal(RevocationList.Session("s1"), entry.CredentialKey);
        Assert.Equal("u1", entry.Identity.Name); // the subject names the caller
        Assert.True(new ClaimsPrincipal(entry.Identity).IsInRole("member")); // roles are read from the platform's role claim
        Assert.True(entry.Identity.IsAuthenticated);
        Assert.False(cache.TryGet("t2", out _));
    }

    [Fact]
    public void AVerifiedTokenWithoutSubjectOrSession_IsKeptAsNobody_SoTheRevocationCheckRefusesIt()
    {
        var cache = new ValidatedTokenCache(TimeProvider.System);
        cache.Add("t1", Principal((PlatformClaims.Email, "a@example.com")), DateTime.UtcNow.AddMinutes(5));

        Assert.True(cache.TryGet("t1", out var entry));
        Assert.Equal("", entry.Subject); // an empty subject is refused as revoked (GatewayAuthentication.IsRevokedAsync)
        Assert.Equal(RevocationList.Session(""), entry.CredentialKey);
    }

    [Fact]
    public void AnExpiredToken_IsNotKept()
    {
        var cache = new ValidatedTokenCache(TimeProvider.System);
        cache.Add("past", Principal((PlatformClaims.Subject, "u1")), DateTime.UtcNow.AddSeconds(-1));
        Assert.False(cache.TryGet("past", out _));
    }

    [Fact]
    public async Task AKeptToken_IsDroppedWhenItExpires()
    {
        var cache = new ValidatedTokenCache(TimeProvider.System);
        cache.Add("soon", Principal((PlatformClaims.Subject, "u1")), DateTime.UtcNow.AddMilliseconds(300));
        Assert.True(cache.TryGet("soon", out _));

        await Task.Delay(600);
        Assert.False(cache.TryGet("soon", out _));
    }

    [Fact]
    public void AFloodOfDistinctTokens_KeepsAtMostAHundredThousand()
    {
        var cache = new ValidatedTokenCache(TimeProvider.System);
        var principal = Principal((PlatformClaims.Subject, "u1"));
        var validTo = DateTime.UtcNow.AddMinutes(5);
        const int Flood = 100_001;
        for (var i = 0; i < Flood; i++)
        {
            cache.Add("t" + i, principal, validTo);
        }

        var kept = Enumerable.Range(0, Flood).Count(i => cache.TryGet("t" + i, out _));
        Assert.InRange(kept, 1, 100_000);
    }

    [Theory]
    [InlineData("Bearer abc.def.ghi", "abc.def.ghi")]
    [InlineData("bearer abc", "abc")] // the scheme in any case
    [InlineData("BEARER   abc  ", "abc")]
    [InlineData("Basic dXNlcjpwdw==", null)]
    [InlineData("Bearer", null)]
    [InlineData("Bearerabc", null)]
    [InlineData("", null)]
    public void BearerToken_TakesTheTokenOfABearerHeaderOnly(string header, string? token) =>
        Assert.Equal(token, GatewayAuthenticationMiddleware.BearerToken(header));
}
