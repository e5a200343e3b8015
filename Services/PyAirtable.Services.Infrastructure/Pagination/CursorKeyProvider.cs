using System.Security.Cryptography;
using Dapper;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace PyAirtable.Services.Infrastructure.Pagination;

/// <summary>The key that signs pagination cursors.</summary>
public interface ICursorKeyProvider
{
    byte[] CursorKey { get; }
}

/// <summary>
/// Takes the key from configuration (<c>Pagination:CursorKey</c>, base64, at least 32 bytes) or,
/// when none is configured, from <c>platform.settings</c>, where the first host to start generates
/// it. Either way every host of one database signs with the same key, so a cursor from one instance
/// works on another and survives restarts.
/// </summary>
public sealed class CursorKeyProvider(NpgsqlDataSource dataSource, IConfiguration configuration) : ICursorKeyProvider
{
    private byte[]? _key;

    public byte[] CursorKey => _key ?? throw new InvalidOperationException("The cursor key is loaded at start-up, after migrations.");

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var configured = configuration["Pagination:CursorKey"];
        if (!string.IsNullOrEmpty(configured))
        {
            var key = Convert.FromBase64String(configured);
            if (key.Length < 32)
            {
                throw new InvalidOperationException("Pagination:CursorKey must be at least 32 bytes (base64).");
            }

            _key = key;
            return;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO platform.settings (name, value) VALUES ('pagination.cursor_key', @value) ON CONFLICT (name) DO NOTHING",
            new { value = RandomNumberGenerator.GetBytes(32) }, cancellationToken: cancellationToken));
        _key = await connection.ExecuteScalarAsync<byte[]>(new CommandDefinition(
            "SELECT value FROM platform.settings WHERE name = 'pagination.cursor_key'", cancellationToken: cancellationToken));
    }
}
