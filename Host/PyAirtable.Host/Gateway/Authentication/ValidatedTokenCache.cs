using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Caching.Memory;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.SharedState;

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

    public bool TryGet(string token, out VerifiedCredential entry) => _cache.TryGetValue(token, out entry!);

    public void Add(string token, ClaimsPrincipal principal, DateTime validTo)
    {
        var lifetime = validTo - DateTime.UtcNow;
        if (lifetime <= TimeSpan.Zero)
        {
            return;
        }

        var identity = new ReadOnlyClaimsIdentity(principal.Claims, JwtBearerDefaults.AuthenticationScheme);
        var entry = new VerifiedCredential(identity, identity.FindFirst(PlatformClaims.Subject)?.Value ?? "",
            RevocationList.Session(identity.FindFirst(PlatformClaims.SessionId)?.Value ?? ""));
        _cache.Set(token, entry, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = lifetime });
    }

    public void Dispose() => _cache.Dispose();
}

/// <summary>A credential this host has verified: what a call that presents it is, and what to ask the revocation list.</summary>
/// <param name="Identity">Built once and shared by every call that presents the credential: it refuses changes.</param>
/// <param name="Subject">The user the credential acts for (empty: refused).</param>
/// <param name="CredentialKey">The credential's own entry in the revocation list (a session, or an API key).</param>
internal sealed record VerifiedCredential(ReadOnlyClaimsIdentity Identity, string Subject, string CredentialKey);

/// <summary>
/// A verified credential's identity that many calls share: each call gets its own <see cref="ClaimsPrincipal"/> around it, and
/// the claims are neither cloned per call nor changeable, so no call can alter what another call is allowed.
/// </summary>
internal sealed class ReadOnlyClaimsIdentity : ClaimsIdentity
{
    private readonly bool _sealed;

    public ReadOnlyClaimsIdentity(IEnumerable<Claim> claims, string authenticationType)
        : base(claims, authenticationType, PlatformClaims.Subject, PlatformClaims.Role) => _sealed = true;

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
