using Npgsql;

namespace PyAirtable.Services.Infrastructure.Database;

/// <summary>
/// One pooled connection and, for an RPC that writes, its transaction: the base of each service's session, whose
/// stores hang off it so the checks, row locks and writes of one RPC (and the outbox event it enqueues) run in one
/// transaction. A read-only session has no transaction: each statement then sees its own snapshot.
/// </summary>
public abstract class DatabaseSession : IAsyncDisposable
{
    protected DatabaseSession(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    {
        ArgumentNullException.ThrowIfNull(connection);
        Connection = connection;
        Transaction = transaction;
    }

    public NpgsqlConnection Connection { get; }

    /// <summary>What stores pass to Dapper: null in a read-only session.</summary>
    public NpgsqlTransaction? Transaction { get; }

    /// <summary>
    /// The transaction of a session opened to write, for what must commit with the business change (the outbox, the
    /// revocation list); a read-only session has none, which is a bug in the caller, not a request error.
    /// </summary>
    public NpgsqlTransaction WriteTransaction =>
        Transaction ?? throw new InvalidOperationException("This session was opened without a transaction.");

    /// <summary>Commits the write transaction; a service's session may add what must follow a commit (publishing the change).</summary>
    public virtual Task CommitAsync(CancellationToken ct) => WriteTransaction.CommitAsync(ct);

    public async ValueTask DisposeAsync()
    {
        if (Transaction is not null)
        {
            await Transaction.DisposeAsync();
        }

        await Connection.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Opens a connection of <paramref name="dataSource"/> and, when <paramref name="write"/>, begins a transaction on it;
    /// the connection goes back to the pool if the transaction cannot begin.
    /// </summary>
    protected static async Task<TSession> OpenAsync<TSession>(
        NpgsqlDataSource dataSource, bool write, Func<NpgsqlConnection, NpgsqlTransaction?, TSession> create, CancellationToken ct)
        where TSession : DatabaseSession
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(create);
        var connection = await dataSource.OpenConnectionAsync(ct);
        try
        {
            return create(connection, write ? await connection.BeginTransactionAsync(ct) : null);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
