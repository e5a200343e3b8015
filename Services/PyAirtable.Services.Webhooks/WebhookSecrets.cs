using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace PyAirtable.Services.Webhooks;

/// <summary>
/// Webhook signing secrets: made (<c>whsec_</c> + base64 of 32 random bytes), kept encrypted (AES-256-GCM) and used to
/// sign. They must be kept recoverable — the platform signs with them — so they are encrypted, not hashed. The key is
/// <c>Webhooks:SecretKey</c>; without it, one generated into <c>webhooks.settings</c> by the first host, which protects
/// the secrets against a leak of the endpoint rows (a query, a log, a partial dump) but not against a copy of the whole
/// database: production should configure the key (from a secret store), outside the database.
/// </summary>
public sealed class WebhookSecrets(NpgsqlDataSource dataSource, IOptions<WebhookOptions> options) : IDisposable
{
    public const string Prefix = "whsec_";
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly SemaphoreSlim _loading = new(1, 1);
    private byte[]? _key;

    public void Dispose() => _loading.Dispose();

    /// <summary>A new secret as the receiver gets it.</summary>
    public static string NewSecret() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>The bytes an HMAC is keyed with: the base64 after the prefix.</summary>
    public static byte[] KeyBytes(string secret) =>
        Convert.FromBase64String(secret.StartsWith(Prefix, StringComparison.Ordinal) ? secret[Prefix.Length..] : secret);

    /// <summary>The Standard Webhooks signature: <c>v1,</c> + base64 HMAC-SHA256 of <c>{id}.{timestamp}.{body}</c>.</summary>
    public static string Sign(string secret, string messageId, long timestamp, string body) =>
        "v1," + Convert.ToBase64String(HMACSHA256.HashData(KeyBytes(secret), Encoding.UTF8.GetBytes($"{messageId}.{timestamp}.{body}")));

    public async Task<byte[]> EncryptAsync(string secret, CancellationToken ct)
    {
        var key = await KeyAsync(ct);
        var plain = Encoding.UTF8.GetBytes(secret);
        var sealedBox = new byte[NonceSize + TagSize + plain.Length];
        var nonce = sealedBox.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagSize);
        aes.Encrypt(nonce, plain, sealedBox.AsSpan(NonceSize + TagSize), sealedBox.AsSpan(NonceSize, TagSize));
        return sealedBox;
    }

    public async Task<string> DecryptAsync(byte[] sealedBox, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(sealedBox);
        var key = await KeyAsync(ct);
        var plain = new byte[sealedBox.Length - NonceSize - TagSize];
        using var aes = new AesGcm(key, TagSize);
        aes.Decrypt(sealedBox.AsSpan(0, NonceSize), sealedBox.AsSpan(NonceSize + TagSize), sealedBox.AsSpan(NonceSize, TagSize), plain);
        return Encoding.UTF8.GetString(plain);
    }

    private async Task<byte[]> KeyAsync(CancellationToken ct)
    {
        if (_key is { } known)
        {
            return known;
        }

        await _loading.WaitAsync(ct);
        try
        {
            if (_key is null)
            {
                if (options.Value.SecretKey is { Length: > 0 } configured)
                {
                    var key = Convert.FromBase64String(configured);
                    _key = key.Length == 32 ? key : throw new InvalidOperationException("Webhooks:SecretKey must be base64 of 32 bytes.");
                }
                else
                {
                    await using var connection = await dataSource.OpenConnectionAsync(ct);
                    await connection.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO webhooks.settings (name, value) VALUES ('secret_key', @value) ON CONFLICT (name) DO NOTHING",
                        new { value = RandomNumberGenerator.GetBytes(32) }, cancellationToken: ct));
                    _key = await connection.ExecuteScalarAsync<byte[]>(new CommandDefinition(
                        "SELECT value FROM webhooks.settings WHERE name = 'secret_key'", cancellationToken: ct));
                }
            }

            return _key!;
        }
        finally
        {
            _loading.Release();
        }
    }
}
