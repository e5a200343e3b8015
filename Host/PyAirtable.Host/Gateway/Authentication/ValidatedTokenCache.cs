using System.Security.Claims;
using Microsoft.Extensions.Caching.Memory;

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

    internal sealed record Entry(Claim[] Claims, string Subject, string SessionId);

    public bool TryGet(string token, out Entry entry) => _cache.TryGetValue(token, out entry!);

    public void Add(string token, ClaimsPrincipal principal, DateTime validTo)
    {
        var lifetime = validTo - DateTime.UtcNow;
        if (lifetime <= TimeSpan.Zero)
        {
            return;
        }

        var claims = principal.Claims.ToArray();
        var entry = new Entry(
            claims,
            claims.FirstOrDefault(c => c.Type == Services.Infrastructure.Identity.PlatformClaims.Subject)?.Value ?? "",
            claims.FirstOrDefault(c => c.Type == Services.Infrastructure.Identity.PlatformClaims.SessionId)?.Value ?? "");
        _cache.Set(token, entry, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = lifetime });
    }

    public void Dispose() => _cache.Dispose();
}
