using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Npgsql;

namespace PyAirtable.Tools;

/// <summary>
/// The users of <c>bench-notify</c>, written straight into the scratch database: Register hashes a password per user
/// (about a tenth of a second of CPU each on this box), which for 10,000 users would be most of the run. Each user
/// gets a credential row (the hash of one real registration, copied), a read grant on the workspace (what
/// PermissionService checks) and a row of the notifications membership projection (what WorkspaceService.AddMember
/// would have produced through MemberAdded), then an access token signed with the host's own active key, with the
/// claims the Auth service puts in one.
/// </summary>
internal static class BenchNotifySeed
{
    private const int ReadLevel = 2;
    private const int WorkspaceType = 1;

    public static async Task<Guid[]> MembersAsync(string connectionString, Guid workspace, Guid owner, int count, CancellationToken ct)
    {
        var users = Enumerable.Range(0, count).Select(_ => Guid.CreateVersion7()).ToArray();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var hash = await connection.ExecuteScalarAsync<string>(new CommandDefinition(
            "SELECT password_hash FROM auth.credentials WHERE user_id = @owner", new { owner }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO auth.credentials (user_id, email, password_hash) SELECT u, 'bench-' || u || '@example.dev', @hash FROM unnest(@users) AS u;
            INSERT INTO permissions.grants (resource_type, resource_id, user_id, level, granted_by)
                 SELECT @type, @workspace, u, @level, @by FROM unnest(@users) AS u;
            INSERT INTO notifications.members (workspace_id, user_id) SELECT @workspace, u FROM unnest(@users) AS u;
            """,
            new { users, hash, workspace, type = (short)WorkspaceType, level = (short)ReadLevel, by = owner.ToString() }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return users;
    }

    /// <summary>Access tokens for <paramref name="users"/>, signed with the active key of auth.signing_keys (ES256 or RS256).</summary>
    public static async Task<string[]> TokensAsync(string connectionString, Guid[] users, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        var (kid, key, algorithm) = await connection.QuerySingleAsync<(string, byte[], string)>(new CommandDefinition(
            "SELECT kid, private_key, algorithm FROM auth.signing_keys WHERE activated_at IS NOT NULL AND retired_at IS NULL",
            cancellationToken: ct));
        using var ecdsa = algorithm == "ES256" ? ECDsa.Create() : null;
        using var rsa = ecdsa is null ? RSA.Create() : null;
        ecdsa?.ImportPkcs8PrivateKey(key, out _);
        rsa?.ImportPkcs8PrivateKey(key, out _);
        var header = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(new { alg = algorithm, kid, typ = "JWT" }));
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return users.Select(user =>
        {
            var payload = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
            {
                ["iss"] = "https://pyairtable.dev/auth", ["aud"] = "pyairtable-api", ["sub"] = user.ToString(),
                ["email"] = $"bench-{user}@example.dev", ["email_verified"] = false, ["sid"] = Guid.NewGuid().ToString(),
                ["jti"] = Guid.NewGuid().ToString("N"), ["iat"] = now, ["nbf"] = now, ["exp"] = now + 7200,
            }));
            var signed = Encoding.ASCII.GetBytes(header + "." + payload);
            // JWS ES256 is the raw r‖s pair (IEEE P1363), .NET's default format for ECDsa.SignData.
            var signature = ecdsa is not null
                ? ecdsa.SignData(signed, HashAlgorithmName.SHA256)
                : rsa!.SignData(signed, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            return header + "." + payload + "." + Base64Url.EncodeToString(signature);
        }).ToArray();
    }

    /// <summary>Waits until the fan-out consumer has projected the owner's membership of <paramref name="workspace"/>.</summary>
    public static async Task WaitProjectedAsync(string connectionString, Guid workspace, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                   "SELECT EXISTS (SELECT 1 FROM notifications.members WHERE workspace_id = @workspace)", new { workspace }, cancellationToken: ct)))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the workspace's creation did not reach the notifications consumer within 60 s");
            }

            await Task.Delay(200, ct);
        }
    }
}
