using Npgsql;
using PyAirtable.Services.Infrastructure.Database;
using PyAirtable.Services.Infrastructure.SharedState;
using PyAirtable.Services.Permissions.Stores;

namespace PyAirtable.Services.Permissions;

/// <summary>
/// The Permission service's own pool on the platform database, with generic plans forced. Its checks are
/// one recursive statement whose parameters are arrays; PostgreSQL kept choosing a custom plan for it,
/// re-planning every call (≈ 1.4 ms) where the cached generic plan runs in ≈ 0.25 ms — measured with
/// PREPARE/EXECUTE on the 10,000-user data set of bench-permissions. Every statement here is a keyed lookup,
/// so a generic plan is the right plan for all of them.
/// </summary>
public sealed class PermissionDatabase(NpgsqlDataSource dataSource, ChangeFeed? feed = null) : IDisposable
{
    public NpgsqlDataSource DataSource { get; } = dataSource;

    /// <summary>A pool like the platform's, sized by <see cref="DatabaseOptions.PermissionsMaxPoolSize"/> (<paramref name="platform"/> is resolved first so a missing connection string fails the same way).</summary>
    public static PermissionDatabase Create(NpgsqlDataSource platform, string connectionString, DatabaseOptions pools, ChangeFeed? feed = null)
    {
        ArgumentNullException.ThrowIfNull(platform);
        ArgumentNullException.ThrowIfNull(pools);
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Options = "-c plan_cache_mode=force_generic_plan",
            ApplicationName = "pyairtable-permissions",
        };
        pools.ApplyTo(builder, pools.PermissionsMaxPoolSize);
        if (builder.MaxAutoPrepare == 0)
        {
            builder.MaxAutoPrepare = 64;
            builder.AutoPrepareMinUsages = 2;
        }

        return new PermissionDatabase(NpgsqlDataSource.Create(builder), feed);
    }

    /// <summary>A session without a transaction, for RPCs that only read.</summary>
    internal Task<PermissionSession> OpenAsync(CancellationToken ct) => PermissionSession.OpenAsync(DataSource, feed, ct);

    /// <summary>A session in a transaction, for RPCs that write: what they check and lock, and what they write, commit together.</summary>
    internal Task<PermissionSession> BeginAsync(CancellationToken ct) => PermissionSession.BeginAsync(DataSource, feed, ct);

    public void Dispose() => DataSource.Dispose();
}
