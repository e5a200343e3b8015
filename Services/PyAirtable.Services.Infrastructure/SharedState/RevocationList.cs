namespace PyAirtable.Services.Infrastructure.SharedState;

/// <summary>
/// Credentials revoked before they expire: sessions (logout, refresh-token reuse), users
/// (deactivation) and API keys. The gateway consults it on every authenticated call, so a revocation
/// written by any host applies to the next call on every host. Entries live as long as the longest
/// credential they can outlive (<c>Identity:RevocationTtl</c>); the durable record stays in PostgreSQL.
/// </summary>
public sealed class RevocationList(ISharedState state, Microsoft.Extensions.Configuration.IConfiguration configuration)
{
    private readonly TimeSpan _ttl = TimeSpan.TryParse(configuration["Identity:RevocationTtl"], System.Globalization.CultureInfo.InvariantCulture, out var ttl)
        ? ttl
        : TimeSpan.FromDays(1);

    public static string Session(string sessionId) => "revoked:session:" + sessionId;

    public static string User(string userId) => "revoked:user:" + userId;

    public static string ApiKey(string keyId) => "revoked:api_key:" + keyId;

    public Task RevokeAsync(string key) => state.SetFlagAsync(key, _ttl);

    /// <summary>True when the credential (session or API key) or its user is revoked.</summary>
    public Task<bool> IsRevokedAsync(string credentialKey, string userId) => state.AnyExistsAsync(credentialKey, User(userId));
}
