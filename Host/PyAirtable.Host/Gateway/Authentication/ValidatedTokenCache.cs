using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Caching.Memory;
using PyAirtable.Services.Infrastructure.Identity;

namespace PyAirtable.Host.Gateway.Authentication;

/// <summary>
/// Access tokens this host has already verified (signature, issuer, audience, lifetime), kept until
/// they expire so a client's next calls skip parsing and the RSA check. Revocation is not cached: it
/// is checked on every call, cached or not. Bounded, so a flood of distinct tokens cannot grow it
/// without limit.
/// </summary>
internal sealed class ValidatedTokenCache : IDisposable
{
    private const int MaxEntries = 100_000;
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = MaxEntries, CompactionPercentage = 0.25 });

    /// <param name="Identity">The token's identity, built once and shared by every call that presents the token: it refuses changes.</param>
    internal sealed record Entry(ReadOnlyClaimsIdentity Identity, string Subject, string SessionId);

    public bool TryGet(string token, out Entry entry) => _cache.TryGetValue(token, out entry!);

    public void Add(string token, ClaimsPrincipal principal, DateTime validTo)
    {
        var lifetime = validTo - DateTime.UtcNow;
        if (lifetime <= TimeSpan.Zero)
        {
            return;
        }

        var identity = new ReadOnlyClaimsIdentity(principal.Claims);
        var entry = new Entry(identity, identity.FindFirst(PlatformClaims.Subject)?.Value ?? "", identity.FindFirst(PlatformClaims.SessionId)?.Value ?? "");
        _cache.Set(token, entry, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = lifetime });
    }

    public void Dispose() => _cache.Dispose();
}

/// <summary>
/// A bearer token's identity that many calls share: each call gets its own <see cref="ClaimsPrincipal"/> around it, and
/// the claims are neither cloned per call nor changeable, so no call can alter what another call is allowed.
/// </summary>
internal sealed class ReadOnlyClaimsIdentity : ClaimsIdentity
{
    private readonly bool _sealed;

    public ReadOnlyClaimsIdentity(IEnumerable<Claim> claims)
        : base(claims, JwtBearerDefaults.AuthenticationScheme, PlatformClaims.Subject, PlatformClaims.Role) => _sealed = true;

    public override void AddClaim(Claim claim)
    {
        ThrowIfSealed();
        base.AddClaim(claim);
    }

    public override void AddClaims(IEnumerable<Claim?> claims)
    {
        ThrowIfSealed();
        base.AddClaims(claims);
    }

    public override void RemoveClaim(Claim? claim)
    {
        ThrowIfSealed();
        base.RemoveClaim(claim);
    }

    public override bool TryRemoveClaim(Claim? claim) => !_sealed && base.TryRemoveClaim(claim);

    private void ThrowIfSealed()
    {
        if (_sealed)
        {
            throw new InvalidOperationException("A validated token's identity is shared by every call that presents the token; it cannot change.");
        }
    }
}
