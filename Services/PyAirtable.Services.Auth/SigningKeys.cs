using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Npgsql;
using PyAirtable.Services.Infrastructure.Identity;
using Jwk = PyAirtable.Contracts.Auth.JsonWebKey;

namespace PyAirtable.Services.Auth;

/// <summary>
/// The signing keys in <c>auth.signing_keys</c>, each ES256 or RS256 for life (new ones follow
/// <see cref="TokenOptions.SigningAlgorithm"/>). One key signs; the next key is published ahead of use,
/// so when a rotation promotes it every host's gateway already holds it; retired keys stay published
/// for the access-token lifetime, so rotating never logs anybody out. Each host reloads the set every
/// <see cref="ReloadInterval"/>, so a rotation on one host reaches the others within that time.
/// </summary>
internal sealed class SigningKeyStore(NpgsqlDataSource dataSource, IOptions<TokenOptions> options, TimeProvider time) : IDisposable
{
    public static readonly TimeSpan ReloadInterval = TimeSpan.FromSeconds(30);
    private const long KeysLockId = 0x7079_6175_7468_6b65; // "pyauthke"
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile KeySet? _keys;

    internal sealed record PublishedKey(
        string Kid, AsymmetricSecurityKey Key, string Algorithm, Jwk Jwk, DateTime? ActivatedAt, DateTime? RetiredAt);

    internal sealed record KeySet(SigningCredentials Signing, IReadOnlyList<PublishedKey> Published, DateTimeOffset LoadedAt)
    {
        public SecurityKey? Find(string? kid) => Published.FirstOrDefault(k => k.Kid == kid)?.Key;
    }

    public void Dispose() => _gate.Dispose();

    public async ValueTask<KeySet> GetAsync(CancellationToken cancellationToken)
    {
        var keys = _keys;
        if (keys is not null && time.GetUtcNow() - keys.LoadedAt < ReloadInterval)
        {
            return keys;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            keys = _keys;
            if (keys is not null && time.GetUtcNow() - keys.LoadedAt < ReloadInterval)
            {
                return keys;
            }

            return _keys = await LoadAsync(rotate: false, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Promotes the next key to signing, retires the current one and publishes a new next key.</summary>
    public async Task<string> RotateAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            _keys = await LoadAsync(rotate: true, cancellationToken);
            return _keys.Signing.Key.KeyId;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<KeySet> LoadAsync(bool rotate, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        // Two hosts starting together must not both create a first key.
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(@id)", new { id = KeysLockId }, tx, cancellationToken: cancellationToken));
        if (rotate)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE auth.signing_keys SET retired_at = now() WHERE activated_at IS NOT NULL AND retired_at IS NULL;
                UPDATE auth.signing_keys SET activated_at = now()
                 WHERE kid = (SELECT kid FROM auth.signing_keys WHERE activated_at IS NULL ORDER BY created_at LIMIT 1);
                """, transaction: tx, cancellationToken: cancellationToken));
        }

        var hasActive = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM auth.signing_keys WHERE activated_at IS NOT NULL AND retired_at IS NULL)", transaction: tx, cancellationToken: cancellationToken));
        if (!hasActive)
        {
            await InsertKeyAsync(connection, tx, active: true, cancellationToken);
        }

        var hasNext = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM auth.signing_keys WHERE activated_at IS NULL)", transaction: tx, cancellationToken: cancellationToken));
        if (!hasNext)
        {
            await InsertKeyAsync(connection, tx, active: false, cancellationToken);
        }

        // Until the last token it signed expires, counting hosts that keep signing with it until they reload.
        var keepFor = options.Value.AccessTokenLifetime + options.Value.ClockSkew + ReloadInterval;
        var rows = (await connection.QueryAsync<(string Kid, byte[] PrivateKey, string Algorithm, DateTime? ActivatedAt,
            DateTime? RetiredAt)>(new CommandDefinition(
            """
            SELECT kid, private_key, algorithm, activated_at, retired_at FROM auth.signing_keys
             WHERE retired_at IS NULL OR retired_at > now() - @keepFor
             ORDER BY activated_at DESC NULLS LAST, created_at DESC
            """, new { keepFor }, tx, cancellationToken: cancellationToken))).ToList();
        await tx.CommitAsync(cancellationToken);

        var published = new List<PublishedKey>();
        foreach (var row in rows)
        {
            var existing = _keys?.Published.FirstOrDefault(p => p.Kid == row.Kid);
            published.Add(existing is not null
                ? existing with { ActivatedAt = row.ActivatedAt, RetiredAt = row.RetiredAt }
                : Publish(row.Kid, row.PrivateKey, row.Algorithm, row.ActivatedAt, row.RetiredAt));
        }

        var signing = published.First(p => p.ActivatedAt is not null && p.RetiredAt is null);
        return new KeySet(new SigningCredentials(signing.Key, signing.Algorithm), published, time.GetUtcNow());
    }

    /// <summary>A stored key as it signs and as the JWKS publishes it (the public members of its type only).</summary>
    private static PublishedKey Publish(string kid, byte[] privateKey, string algorithm, DateTime? activatedAt, DateTime? retiredAt)
    {
        if (algorithm == SecurityAlgorithms.EcdsaSha256)
        {
            var ecdsa = ECDsa.Create();
            ecdsa.ImportPkcs8PrivateKey(privateKey, out _);
            var point = ecdsa.ExportParameters(includePrivateParameters: false).Q;
            var jwk = new Jwk
            {
                Kty = "EC", Kid = kid, Use = "sig", Alg = algorithm, Crv = "P-256",
                X = Base64Url.EncodeToString(point.X), Y = Base64Url.EncodeToString(point.Y),
            };
            return new PublishedKey(kid, new ECDsaSecurityKey(ecdsa) { KeyId = kid }, algorithm, jwk, activatedAt, retiredAt);
        }

        var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(privateKey, out _);
        var parameters = rsa.ExportParameters(includePrivateParameters: false);
        var rsaJwk = new Jwk
        {
            Kty = "RSA", Kid = kid, Use = "sig", Alg = SecurityAlgorithms.RsaSha256,
            N = Base64Url.EncodeToString(parameters.Modulus), E = Base64Url.EncodeToString(parameters.Exponent),
        };
        return new PublishedKey(kid, new RsaSecurityKey(rsa) { KeyId = kid }, SecurityAlgorithms.RsaSha256, rsaJwk, activatedAt, retiredAt);
    }

    private async Task InsertKeyAsync(NpgsqlConnection connection, NpgsqlTransaction tx, bool active, CancellationToken cancellationToken)
    {
        var algorithm = options.Value.SigningAlgorithm;
        byte[] privateKey;
        if (algorithm == SecurityAlgorithms.EcdsaSha256)
        {
            using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            privateKey = ecdsa.ExportPkcs8PrivateKey();
        }
        else
        {
            using var rsa = RSA.Create(2048);
            privateKey = rsa.ExportPkcs8PrivateKey();
        }

        var kid = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(12));
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO auth.signing_keys (kid, private_key, algorithm, activated_at)
            VALUES (@kid, @privateKey, @algorithm, CASE WHEN @active THEN now() END)
            """, new { kid, privateKey, algorithm, active }, tx, cancellationToken: cancellationToken));
    }

    /// <summary>The JWKS JSON document of the published keys: each with the members of its own type only.</summary>
    public static string ToJson(IEnumerable<Jwk> keys) => JsonSerializer.Serialize(new
    {
        keys = keys.Select(k => k.Kty == "EC"
            ? (object)new { kty = k.Kty, kid = k.Kid, use = k.Use, alg = k.Alg, crv = k.Crv, x = k.X, y = k.Y }
            : new { kty = k.Kty, kid = k.Kid, use = k.Use, alg = k.Alg, n = k.N, e = k.E }),
    });
}
