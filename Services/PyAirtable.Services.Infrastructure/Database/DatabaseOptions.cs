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
