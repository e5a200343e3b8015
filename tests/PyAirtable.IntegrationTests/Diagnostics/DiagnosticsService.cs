using System.Runtime.CompilerServices;
using Dapper;
using Npgsql;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Infrastructure.Requests;

namespace PyAirtable.IntegrationTests.Diagnostics;

// Test-only service: public so the foundation tests need no credentials; Echo still sees the caller when one is sent.
[Microsoft.AspNetCore.Authorization.AllowAnonymous]
public sealed class DiagnosticsService(NpgsqlDataSource dataSource, CursorCodec cursors) : IDiagnosticsService
{
    public ValueTask<EchoResponse> EchoAsync(EchoRequest request, CallContext context = default) =>
        ValueTask.FromResult(new EchoResponse { Text = request.Text, Metadata = context.GetRequestMetadata() });

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> FlakyAttempts = new(StringComparer.Ordinal);

    public ValueTask<FlakyResponse> GetFlakyAsync(FlakyRequest request, CallContext context = default) => Flaky(request);

    public ValueTask<FlakyResponse> RecordFlakyAsync(FlakyRequest request, CallContext context = default) => Flaky(request);

    private static ValueTask<FlakyResponse> Flaky(FlakyRequest request)
    {
        var attempts = FlakyAttempts.AddOrUpdate(request.Key, 1, (_, n) => n + 1);
        if (attempts <= request.Failures)
        {
            throw new PlatformException(ErrorCode.Unavailable, $"flaky: attempt {attempts} of {request.Key} fails");
        }

        return ValueTask.FromResult(new FlakyResponse { Attempts = attempts });
    }

    public async ValueTask<FailResponse> FailAsync(FailRequest request, CallContext context = default)
    {
        switch (request.Kind)
        {
            case FailureKind.Bug:
                throw new InvalidOperationException("connection string Password=" + request.Secret);
            case FailureKind.NotFound:
                Fail.NotFound("item", "42");
                break;
            case FailureKind.Validation:
                new RequestValidator()
                    .Required("name", "")
                    .MaxLength("description", new string('x', 20), 10)
                    .ThrowIfInvalid();
                break;
            case FailureKind.UniqueViolation:
                await using (var connection = await dataSource.OpenConnectionAsync(context.CancellationToken))
                {
                    const string sql = "INSERT INTO testing.items (name) VALUES ('unique:dup')";
                    await connection.ExecuteAsync(new CommandDefinition(sql, cancellationToken: context.CancellationToken));
                    await connection.ExecuteAsync(new CommandDefinition(sql, cancellationToken: context.CancellationToken));
                }

                break;
        }

        throw new ValidationException("kind", "is not a failure kind");
    }

    public async ValueTask<SleepResponse> SleepAsync(SleepRequest request, CallContext context = default)
    {
        if (request.InProcess)
        {
            await Task.Delay(TimeSpan.FromSeconds(request.Seconds), context.CancellationToken);
            return new SleepResponse { Completed = true };
        }

        await using var connection = await dataSource.OpenConnectionAsync(context.CancellationToken);
        // The marker lets a test find this statement in pg_stat_activity.
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_sleep(@seconds), @marker", new { seconds = request.Seconds, marker = request.Marker },
            cancellationToken: context.CancellationToken));
        return new SleepResponse { Completed = true };
    }

    public async IAsyncEnumerable<EchoResponse> StreamAsync(StreamRequest request, CallContext context = default)
    {
        for (var i = 1; i <= request.Count; i++)
        {
            if (request.FailAfter > 0 && i > request.FailAfter)
            {
                throw new InvalidOperationException("stream broke with secret internals");
            }

            yield return new EchoResponse { Text = i.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            await Task.Yield();
        }
    }

    public async ValueTask<RecordEventResponse> RecordEventAsync(RecordEventRequest request, CallContext context = default)
    {
        new RequestValidator().Required("name", request.Name).MaxLength("name", request.Name, 200).ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var id = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "INSERT INTO testing.items (name) VALUES (@name) RETURNING id", new { name = request.Name }, transaction, cancellationToken: ct));
        var eventId = await Outbox.EnqueueAsync(transaction, new ItemCreated { ItemId = id, Name = request.Name },
            EventOrigin.Of<IDiagnosticsService>(context), ct);
        if (request.Rollback)
        {
            await transaction.RollbackAsync(ct);
        }
        else
        {
            await transaction.CommitAsync(ct);
        }

        return new RecordEventResponse { ItemId = id, EventId = eventId.ToString() };
    }

    public async ValueTask<ListItemsResponse> ListItemsAsync(ListItemsRequest request, CallContext context = default)
    {
        var ct = context.CancellationToken;
        // The filter is part of the scope: a cursor of one prefix is rejected for another.
        var scope = "testing.items:" + request.Prefix;
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 10, maxPageSize: 100);
        long? after = page.After is [var last] ? long.Parse(last, System.Globalization.CultureInfo.InvariantCulture) : null;

        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var rows = (await connection.QueryAsync<Item>(new CommandDefinition(
            """
            SELECT id AS "Id", name AS "Name" FROM testing.items
            WHERE name LIKE @prefix || '%' AND (@after::bigint IS NULL OR id > @after)
            ORDER BY id LIMIT @limit
            """,
            new { prefix = request.Prefix, after, limit = page.PageSize + 1 }, cancellationToken: ct))).ToList();
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM testing.items WHERE name LIKE @prefix || '%'", new { prefix = request.Prefix }, cancellationToken: ct));

        var (items, pagination) = page.Complete(rows, total,
            item => [item.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], cursors, scope);
        return new ListItemsResponse { Items = [.. items], Pagination = pagination };
    }
}
