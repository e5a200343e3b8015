namespace PyAirtable.Services.Infrastructure.Database;

/// <summary>Thrown at start-up when PostgreSQL is not configured or cannot be reached.</summary>
public sealed class DatabaseUnavailableException : Exception
{
    public DatabaseUnavailableException(string message, Exception? inner = null) : base(message, inner) { }

    public DatabaseUnavailableException() : this("PostgreSQL is unavailable.") { }

    public DatabaseUnavailableException(string message) : this(message, null) { }
}

/// <summary>The embedded SQL migrations of one schema, owned by one service.</summary>
/// <param name="Schema">The PostgreSQL schema the service owns (lower_snake_case).</param>
/// <param name="Assembly">The assembly with the scripts as embedded resources.</param>
/// <param name="ResourcePrefix">Only resources whose names start with this are scripts of the set; run in name order.</param>
public sealed record MigrationSet(string Schema, System.Reflection.Assembly Assembly, string ResourcePrefix);

/// <summary>
/// Connection pools of one host (section <c>Database</c>). A host opens at most
/// <see cref="MaxPoolSize"/> + <see cref="PermissionsMaxPoolSize"/> connections (60 by default); size
/// PostgreSQL's <c>max_connections</c> for the number of hosts times that, plus a few for operators
/// (./run.sh's cluster allows 300: four hosts and room to spare). A call that finds its pool busy waits
/// for a free connection — up to <see cref="PoolWaitTimeout"/> or its own deadline — instead of failing.
/// </summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary>Most connections of the platform pool (every service but permission checks).</summary>
    public int MaxPoolSize { get; set; } = 40;

    /// <summary>Most connections of the Permission service's own pool (checks run inside other services' calls).</summary>
    public int PermissionsMaxPoolSize { get; set; } = 20;

    /// <summary>Idle connections above the minimum are closed after this long, so a burst does not leave them open.</summary>
    public TimeSpan ConnectionIdleLifetime { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a call waits for a connection from a busy pool (or to open one) before UNAVAILABLE.</summary>
    public TimeSpan PoolWaitTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Applies the pool settings to a connection string builder.</summary>
    public void ApplyTo(Npgsql.NpgsqlConnectionStringBuilder builder, int maxPoolSize)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (maxPoolSize < 1)
        {
            throw new InvalidOperationException($"{Section}: pool sizes must be at least 1 (got {maxPoolSize}).");
        }

        builder.MaxPoolSize = maxPoolSize;
        builder.MinPoolSize = Math.Min(builder.MinPoolSize, maxPoolSize);
        builder.ConnectionIdleLifetime = Math.Max(1, (int)ConnectionIdleLifetime.TotalSeconds);
        builder.ConnectionPruningInterval = Math.Min(builder.ConnectionPruningInterval, builder.ConnectionIdleLifetime);
        builder.Timeout = Math.Clamp((int)PoolWaitTimeout.TotalSeconds, 1, 1024);
    }
}
