using Dapper;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ProtoBuf.Grpc;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Infrastructure.Identity;

namespace PyAirtable.IntegrationTests.Events;

/// <summary>
/// What the outbox records of an event, and what it refuses to record: an event is the business change's own row, written
/// in its transaction with who caused it, or nothing at all.
/// </summary>
public sealed class OutboxTests : DatabasePerTest
{
    private static readonly EventOrigin Origin = new("/test", "", "");

    [Fact]
    public async Task AnEvent_RecordsTheUserAndTheRequestThatCausedIt_AnAnonymousCallNoUser()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.Settings["Events:RelayEnabled"] = "false");
        var user = await host.RegisterAsync();
        var requestId = "outbox-" + Guid.NewGuid().ToString("N");
        var asUser = new CallContext(new CallOptions(new Metadata
        {
            { "authorization", "Bearer " + user.Tokens.AccessToken },
            { "x-request-id", requestId },
        }));

        var byUser = await host.Diagnostics.RecordEventAsync(new RecordEventRequest { Name = "by a user" }, asUser);
        var anonymous = await host.Diagnostics.RecordEventAsync(new RecordEventRequest { Name = "anonymous" });
        // A platform service is authenticated but is no user: no actor either.
        var services = host.App.Services.GetRequiredService<IServiceTokenIssuer>();
        var serviceAuthorization = await services.AuthorizationAsync("auth", [], default);
        var byService = await host.Diagnostics.RecordEventAsync(new RecordEventRequest { Name = "by a service" },
            new CallContext(new CallOptions(new Metadata { { "authorization", serviceAuthorization } })));

        var userRow = await RowAsync(byUser.EventId);
        Assert.Equal((user.UserId, requestId, "/" + TestHost.DiagnosticsServiceName), (userRow.ActorId, userRow.RequestId, userRow.Source));
        var itemId = byUser.ItemId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(("item", itemId), (userRow.AggregateType, userRow.AggregateId));
        var data = ProtoBuf.Serializer.Deserialize<ItemCreated>((ReadOnlyMemory<byte>)userRow.Payload);
        Assert.Equal((byUser.ItemId, "by a user"), (data.ItemId, data.Name)); // the event itself, not only its envelope
        var anonymousRow = await RowAsync(anonymous.EventId);
        Assert.Equal("", anonymousRow.ActorId);
        Assert.False(string.IsNullOrEmpty(anonymousRow.RequestId)); // the gateway numbered the call
        Assert.NotEqual(requestId, anonymousRow.RequestId);
        Assert.Equal("", (await RowAsync(byService.EventId)).ActorId);
    }

    [Fact]
    public void AnOriginOutsideACall_HasNoUserNorRequest_AndNamesTheServiceByItsContract()
    {
        // A call that did not come through a gateway (a background job, an in-process caller without a server context).
        Assert.Equal(new EventOrigin("/" + TestHost.DiagnosticsServiceName, "", ""), EventOrigin.Of<IDiagnosticsService>(default));
        // A contract without a [Service] name is named by its type.
        Assert.Equal(new EventOrigin("/" + nameof(IUnnamedContract), "", ""), EventOrigin.Of<IUnnamedContract>(default));
    }

    [Fact]
    public async Task Enqueue_RefusesWhatCannotBeAnEvent_AndWritesNothing()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString, o => o.Settings["Events:RelayEnabled"] = "false");
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.OpenAsync();
        var item = new ItemCreated { ItemId = 1, Aggregate = "a" };

        await using (var tx = await connection.BeginTransactionAsync())
        {
            Assert.Equal("transaction", (await Assert.ThrowsAsync<ArgumentNullException>(() =>
                Outbox.EnqueueAsync(null!, item, Origin, default))).ParamName);
            Assert.Equal("domainEvent", (await Assert.ThrowsAsync<ArgumentNullException>(() =>
                Outbox.EnqueueAsync<ItemCreated>(tx, null!, Origin, default))).ParamName);
            Assert.Equal("origin", (await Assert.ThrowsAsync<ArgumentNullException>(() =>
                Outbox.EnqueueAsync(tx, item, null!, default))).ParamName);
            // No aggregate, no partition and no order: an event must say what it is about.
            Assert.Equal("domainEvent", (await Assert.ThrowsAsync<ArgumentException>(() =>
                Outbox.EnqueueAsync(tx, new AboutNothing(), Origin, default))).ParamName);
            await tx.CommitAsync();

            // After the commit the transaction is over: an event enqueued now would belong to no business change.
            await Assert.ThrowsAsync<InvalidOperationException>(() => Outbox.EnqueueAsync(tx, item, Origin, default));
        }

        await using (var tx = await connection.BeginTransactionAsync())
        {
            await Outbox.EnqueueAsync(tx, item, Origin, default);
            await tx.RollbackAsync();
        }

        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM platform.outbox"));
    }

    private async Task<OutboxRow> RowAsync(string eventId)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        return await connection.QuerySingleAsync<OutboxRow>(
            """
            SELECT actor_id AS ActorId, request_id AS RequestId, source AS Source, aggregate_type AS AggregateType,
                   aggregate_id AS AggregateId, payload AS Payload
              FROM platform.outbox WHERE event_id = @id
            """, new { id = Guid.Parse(eventId) });
    }

    private sealed record OutboxRow(
        string ActorId, string RequestId, string Source, string AggregateType, string AggregateId, byte[] Payload);

    /// <summary>An event without a subject.</summary>
    private sealed record AboutNothing : PyAirtable.Contracts.Events.IDomainEvent
    {
        public string Subject => "";

        public string AggregateType => "item";
    }

    /// <summary>A contract without a <c>[Service]</c> name.</summary>
    public interface IUnnamedContract;
}
