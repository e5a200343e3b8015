using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using PyAirtable.Contracts.Auth;
using PyAirtable.Services.Infrastructure.Identity;

namespace PyAirtable.Host.Gateway.Authentication;

/// <summary>
/// The token verification keys, read from the Auth service's JWKS through its contract (in process, or
/// from the host that runs it). Refreshed every <see cref="TokenOptions.JwksRefreshInterval"/> and when
/// a token names a <c>kid</c> the cache does not know (at most once per
/// <see cref="TokenOptions.JwksMinRefreshInterval"/>, so forged kids cannot hammer the Auth service).
/// </summary>
internal sealed partial class SigningKeyCache(IServiceProvider services, IOptions<TokenOptions> options, TimeProvider time, ILogger<SigningKeyCache> logger) : IDisposable
{
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private volatile Dictionary<string, SecurityKey> _keys = new(StringComparer.Ordinal);
    private DateTimeOffset _loadedAt = DateTimeOffset.MinValue;
    private DateTimeOffset _lastAttempt = DateTimeOffset.MinValue;

    public void Dispose() => _refresh.Dispose();

    /// <summary>The key with this id, if known (synchronous: called by the token handler).</summary>
    public SecurityKey? Find(string? kid) => kid is not null && _keys.TryGetValue(kid, out var key) ? key : null;

    /// <summary>Makes sure the key a token names is loaded if the Auth service has it.</summary>
    public async Task EnsureAsync(string? kid, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var stale = now - _loadedAt > options.Value.JwksRefreshInterval;
        if (kid is null || (!stale && _keys.ContainsKey(kid)))
        {
            return;
        }

        if (!stale && now - _lastAttempt < options.Value.JwksMinRefreshInterval)
        {
            return; // an unknown kid was looked up a moment ago: do not ask again yet
        }

        await _refresh.WaitAsync(cancellationToken);
        try
        {
            now = time.GetUtcNow();
            if ((now - _loadedAt <= options.Value.JwksRefreshInterval && _keys.ContainsKey(kid))
                || now - _lastAttempt < options.Value.JwksMinRefreshInterval)
            {
                return; // another request refreshed while this one waited
            }

            _lastAttempt = now;
            var jwks = await services.GetRequiredService<IAuthService>().GetJwksAsync(new GetJwksRequest(), new ProtoBuf.Grpc.CallContext(new Grpc.Core.CallOptions(cancellationToken: cancellationToken)));
            var keys = new Dictionary<string, SecurityKey>(StringComparer.Ordinal);
            foreach (var jwk in jwks.Keys)
            {
                var key = _keys.TryGetValue(jwk.Kid, out var existing) ? existing : ToSecurityKey(jwk);
                if (key is not null)
                {
                    keys[jwk.Kid] = key;
                }
            }

            _keys = keys;
            _loadedAt = now;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Keep the keys we have: tokens they verify keep working while the Auth service is away.
            LogRefreshFailed(logger, ex.Message);
        }
        finally
        {
            _refresh.Release();
        }
    }

    /// <summary>
    /// A published key as the token handler checks signatures with it; null for a kind the platform does not sign with. The
    /// key type decides the one algorithm it verifies: the handler refuses a token whose <c>alg</c> does not fit its key.
    /// </summary>
    internal static SecurityKey? ToSecurityKey(PyAirtable.Contracts.Auth.JsonWebKey jwk) => (jwk.Kty, jwk.Alg, jwk.Crv) switch
    {
        ("EC", SecurityAlgorithms.EcdsaSha256, "P-256") => new ECDsaSecurityKey(ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64Url.DecodeFromChars(jwk.X), Y = Base64Url.DecodeFromChars(jwk.Y) },
        })) { KeyId = jwk.Kid },
        ("RSA", SecurityAlgorithms.RsaSha256, _) => new RsaSecurityKey(new RSAParameters
        {
            Modulus = Base64Url.DecodeFromChars(jwk.N), Exponent = Base64Url.DecodeFromChars(jwk.E),
        }) { KeyId = jwk.Kid },
        _ => null,
    };

    /// <summary>The <c>kid</c> of a compact JWS, read from its header without validating anything.</summary>
    public static string? ReadKid(string token)
    {
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot > 2048)
        {
            return null;
        }

        try
        {
            var header = Base64Url.DecodeFromChars(token.AsSpan(0, dot));
            var reader = new Utf8JsonReader(header);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isKid = reader.ValueTextEquals("kid"u8);
                reader.Read();
                if (isKid)
                {
                    return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }

                reader.Skip();
            }
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not refresh the token signing keys from the Auth service: {Error}")]
    private static partial void LogRefreshFailed(ILogger logger, string error);
}
