using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.Host.Gateway.Authentication;

/// <summary>
/// Credentials this host has verified, each kept until it expires, so a client's next calls skip the verification.
/// Revocation is not cached: it is checked on every call, cached or not. Bounded, so a flood of distinct credentials
/// cannot grow it without limit. Looked up by span: the caller's header is never copied into a new string per call
/// (a bearer token is most of a kilobyte).
/// </summary>
internal abstract class VerifiedCredentialCache
{
    internal const int MaxEntries = 100_000;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Entry>.AlternateLookup<ReadOnlySpan<char>> _bySpan;
    private readonly TimeProvider _time;
    private int _count;

    protected VerifiedCredentialCache(TimeProvider time)
    {
        _time = time;
        _bySpan = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Credentials held now (expired ones may be counted until they are looked up or swept).</summary>
    internal int Count => Volatile.Read(ref _count);

    protected bool TryFind(ReadOnlySpan<char> key, out VerifiedCredential credential)
    {
        if (_bySpan.TryGetValue(key, out var entry))
        {
            if (_time.GetUtcNow() < entry.ExpiresAt)
            {
                credential = entry.Credential;
                return true;
            }

            Remove(entry);
        }

        credential = null!;
        return false;
    }

    protected void Keep(string key, VerifiedCredential credential, DateTimeOffset expiresAt)
    {
        if (expiresAt <= _time.GetUtcNow())
        {
            return;
        }

        var entry = new Entry(key, credential, expiresAt);
        if (_entries.TryAdd(key, entry))
        {
            if (Interlocked.Increment(ref _count) > MaxEntries)
            {
                Sweep();
            }
        }
        else
        {
            _entries[key] = entry; // verified again (e.g. after it expired here): the newer verdict wins
        }
    }

    /// <summary>Drops the expired entries; when that is not enough, a quarter of the rest (they are verified again when used).</summary>
    private void Sweep()
    {
        var now = _time.GetUtcNow();
        foreach (var (_, entry) in _entries)
        {
            if (entry.ExpiresAt <= now)
            {
                Remove(entry);
            }
        }

        var target = MaxEntries * 3 / 4;
        foreach (var (_, entry) in _entries)
        {
            if (Volatile.Read(ref _count) <= target)
            {
                break;
            }

            Remove(entry);
        }
    }

    private void Remove(Entry entry)
    {
        // Only this entry: a newer verdict stored under the same key in the meantime stays.
        if (_entries.TryRemove(new KeyValuePair<string, Entry>(entry.Key, entry)))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    private sealed record Entry(string Key, VerifiedCredential Credential, DateTimeOffset ExpiresAt);
}

/// <summary>Access tokens this host has verified (signature, issuer, audience, lifetime), kept until they expire.</summary>
internal sealed class ValidatedTokenCache(TimeProvider time) : VerifiedCredentialCache(time)
{
    public bool TryGet(ReadOnlySpan<char> token, out VerifiedCredential credential) => TryFind(token, out credential);

    public void Add(string token, ClaimsPrincipal principal, DateTime validTo)
    {
        var identity = new ReadOnlyClaimsIdentity(principal.Claims, JwtBearerDefaults.AuthenticationScheme);
        var credential = new VerifiedCredential(identity, identity.FindFirst(PlatformClaims.Subject)?.Value ?? "",
            RevocationList.Session(identity.FindFirst(PlatformClaims.SessionId)?.Value ?? ""));
        Keep(token, credential, new DateTimeOffset(DateTime.SpecifyKind(validTo, DateTimeKind.Utc)));
    }
}

/// <summary>A credential this host has verified: what a call that presents it is, and what to ask the revocation list.</summary>
/// <param name="Identity">Built once and shared by every call that presents the credential: it refuses changes.</param>
/// <param name="Subject">The user the credential acts for (empty: refused).</param>
/// <param name="CredentialKey">The credential's own entry in the revocation list (a session, or an API key).</param>
internal sealed record VerifiedCredential(ReadOnlyClaimsIdentity Identity, string Subject, string CredentialKey)
{
    /// <summary>The principal of every call that presents the credential: shared, so it refuses new identities.</summary>
    public ClaimsPrincipal Principal { get; } = new ReadOnlyClaimsPrincipal(Identity);
}

/// <summary>
/// A verified credential's principal, shared by the calls that present it (one fewer principal, list and array per call). It
/// refuses identities added to it, so no call can change what another call is.
/// </summary>
internal sealed class ReadOnlyClaimsPrincipal(ReadOnlyClaimsIdentity identity) : ClaimsPrincipal(identity)
{
    public override void AddIdentity(ClaimsIdentity identity) => throw Shared();

    public override void AddIdentities(IEnumerable<ClaimsIdentity> identities) => throw Shared();

    private static InvalidOperationException Shared() =>
        new("A verified credential's principal is shared by every call that presents it; it cannot change.");
}

/// <summary>
/// A verified credential's identity that many calls share (inside a shared <see cref="ReadOnlyClaimsPrincipal"/>), and
/// the claims are neither cloned per call nor changeable, so no call can alter what another call is allowed. What the gateway
/// derives from the claims on every call (<see cref="Caller"/>) is derived once, here.
/// </summary>
internal sealed class ReadOnlyClaimsIdentity : ClaimsIdentity
{
    private readonly bool _sealed;

    public ReadOnlyClaimsIdentity(IEnumerable<Claim> claims, string authenticationType)
        : base(claims, authenticationType, PlatformClaims.Subject, PlatformClaims.Role)
    {
        _sealed = true;
        Caller = new VerifiedCaller(Claims);
    }

    /// <summary>What the gateway needs to know of this caller on every call.</summary>
    public VerifiedCaller Caller { get; }

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

    /// <summary>
    /// The verified caller of a call whose principal is a cached credential's alone; null for any other principal, including one
    /// a call added identities to (what they claim is read from the claims, as for every principal).
    /// </summary>
    public static VerifiedCaller? CallerOf(ClaimsPrincipal user) =>
        user.Identity is ReadOnlyClaimsIdentity identity && user.Identities is ICollection<ClaimsIdentity> { Count: 1 } ? identity.Caller : null;
}

/// <summary>
/// A verified credential's caller as the gateway uses it on every call, derived once from its (unchangeable) claims: the
/// <see cref="UserContext"/> service code reads, the scopes authorization checks, and the rate limiter's partition.
/// </summary>
internal sealed class VerifiedCaller
{
    private readonly ConcurrentDictionary<string, string> _partitions = new(StringComparer.Ordinal);

    public VerifiedCaller(IEnumerable<Claim> claims)
    {
        var all = claims.ToList();
        UserContext = PlatformClaims.ToUserContext(all);
        Scopes = [.. UserContext.Scopes];
        IsService = UserContext.Roles.Contains(PlatformRoles.Service, StringComparer.Ordinal);
        CredentialPartition = CredentialOf(all.FirstOrDefault(c => c.Type == PlatformClaims.ApiKeyId)?.Value, UserContext.UserId);
    }

    /// <summary>
    /// Shared by every call that presents the credential (request metadata carries it to service code): nothing may change it,
    /// its lists included. Service code reads the caller; a call that needs another caller builds a new context.
    /// </summary>
    public UserContext UserContext { get; }

    /// <summary>The scopes the credential is limited to; empty means unrestricted.</summary>
    public IReadOnlyList<string> Scopes { get; }

    /// <summary>The platform's own services (the service role), which the gateway does not rate-limit.</summary>
    public bool IsService { get; }

    /// <summary><c>key:&lt;api key id&gt;</c> or <c>user:&lt;user id&gt;</c>: whose rate-limit bucket a call spends.</summary>
    public string CredentialPartition { get; }

    /// <summary>Whether the credential holds <paramref name="scope"/> (unrestricted credentials hold every scope).</summary>
    public bool Holds(string scope)
    {
        if (Scopes.Count == 0)
        {
            return true;
        }

        foreach (var held in Scopes)
        {
            if (string.Equals(held, scope, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The per-credential rate-limit partition of an RPC class (a handful of classes: kept per credential).</summary>
    public string PartitionOf(string rpcClass) =>
        _partitions.GetOrAdd(rpcClass, static (rpc, credential) => Partition(rpc, credential), CredentialPartition);

    /// <summary>Whose bucket: an API key is its own credential; a user's access tokens (one per session) share the user's.</summary>
    internal static string CredentialOf(string? apiKeyId, string? userId) => apiKeyId is not null ? "key:" + apiKeyId : "user:" + userId;

    /// <summary>The per-credential partition of an RPC class.</summary>
    internal static string Partition(string rpcClass, string credential) => $"{rpcClass}:credential:{credential}";
}
