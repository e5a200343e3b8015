using Google.Rpc;
using Grpc.Core;
using Npgsql;
using ProtoBuf.Grpc;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Gateway;

public sealed class ErrorModelTests(HostFixture hostFixture) : HostTests(hostFixture)
{
    private IDiagnosticsService Service => Fixture.Host.Diagnostics;

    [Fact]
    public async Task Fail_UnexpectedException_IsInternalWithoutLeakedText()
    {
        var secret = "s3cr3t-" + Guid.NewGuid().ToString("N");
        var requestId = "bug-" + Guid.NewGuid().ToString("N");
        var context = new CallContext(new CallOptions(new Metadata { { "x-request-id", requestId } }));

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Service.FailAsync(new FailRequest { Kind = FailureKind.Bug, Secret = secret }, context));

        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.DoesNotContain(secret, ex.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("InvalidOperationException", ex.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("Password", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(requestId, ex.Status.Detail, StringComparison.Ordinal);
        foreach (var entry in ex.Trailers)
        {
            Assert.DoesNotContain(secret, entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes) : entry.Value, StringComparison.Ordinal);
        }

        var info = ex.GetRpcStatus()?.GetDetail<ErrorInfo>();
        Assert.NotNull(info);
        Assert.Equal("ERROR_CODE_INTERNAL", info.Reason);
        Assert.Equal(requestId, info.Metadata["request_id"]);
        Fixture.Host.Logs.TakeErrors(e => e.RequestId == requestId);
    }

    [Fact]
    public async Task Fail_Validation_CarriesBadRequestFieldViolationsAndErrorInfo()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Service.FailAsync(new FailRequest { Kind = FailureKind.Validation }));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        var status = ex.GetRpcStatus();
        Assert.NotNull(status);
        Assert.Equal((int)Code.InvalidArgument, status.Code);
        var info = status.GetDetail<ErrorInfo>();
        Assert.Equal("ERROR_CODE_INVALID_ARGUMENT", info.Reason);
        Assert.Equal("pyairtable.dev", info.Domain);
        var badRequest = status.GetDetail<BadRequest>();
        Assert.NotNull(badRequest);
        Assert.Collection(badRequest.FieldViolations,
            v => { Assert.Equal("name", v.Field); Assert.Equal("is required", v.Description); },
            v => { Assert.Equal("description", v.Field); Assert.Contains("10", v.Description, StringComparison.Ordinal); });
    }

    [Fact]
    public async Task Fail_NotFound_CarriesErrorInfoMetadata()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Service.FailAsync(new FailRequest { Kind = FailureKind.NotFound }));

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        var info = ex.GetRpcStatus()!.GetDetail<ErrorInfo>();
        Assert.Equal("ERROR_CODE_NOT_FOUND", info.Reason);
        Assert.Equal("item", info.Metadata["resource_type"]);
        Assert.Equal("42", info.Metadata["resource_id"]);
        Assert.False(string.IsNullOrEmpty(info.Metadata["request_id"]));
    }

    [Fact]
    public async Task Fail_UniqueViolationInDatabase_IsAlreadyExistsWithoutSchemaNames()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Service.FailAsync(new FailRequest { Kind = FailureKind.UniqueViolation }));

        Assert.Equal(StatusCode.AlreadyExists, ex.StatusCode);
        Assert.DoesNotContain("items_unique_name", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_UnexpectedExceptionMidway_IsInternalAfterTheItemsSent()
    {
        var received = new List<string>();

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var item in Service.StreamAsync(new StreamRequest { Count = 5, FailAfter = 2 }))
            {
                received.Add(item.Text);
            }
        });

        Assert.Equal(["1", "2"], received);
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.DoesNotContain("secret", ex.Status.Detail, StringComparison.Ordinal);
        Fixture.Host.Logs.TakeErrors(e => e.Exception?.Message.Contains("stream broke", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Sleep_DeadlinePasses_DeadlineExceededAndTheQueryIsCancelledInPostgres()
    {
        var marker = "sleep-" + Guid.NewGuid().ToString("N");
        var context = new CallContext(new CallOptions(deadline: DateTime.UtcNow.AddMilliseconds(500)));

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Service.SleepAsync(new SleepRequest { Seconds = 30, Marker = marker }, context));

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        // The deadline reached PostgreSQL: the 30 s statement is gone well before it would end.
        await using var connection = new NpgsqlConnection(Fixture.Database.ConnectionString);
        await connection.OpenAsync();
        var running = -1L;
        for (var i = 0; i < 50 && running != 0; i++)
        {
            await using var command = new NpgsqlCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep%' AND query NOT LIKE '%pg_stat_activity%' AND datname = current_database()",
                connection);
            running = (long)(await command.ExecuteScalarAsync())!;
            if (running != 0)
            {
                await Task.Delay(100);
            }
        }

        Assert.Equal(0, running);
    }

    [Fact]
    public async Task Sleep_ClientCancels_CallEndsCancelled()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Service.SleepAsync(new SleepRequest { Seconds = 30, InProcess = true }, new CallContext(new CallOptions(cancellationToken: cts.Token))));

        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
    }

    [Fact]
    public async Task UnexpectedErrorCheck_ChargesAnErrorToTheTestWhoseRequestLoggedIt_NotToALaterTest()
    {
        var before = InFlightRequests.Started;
        await Assert.ThrowsAsync<RpcException>(async () => await Service.FailAsync(new FailRequest { Kind = FailureKind.Bug }));
        Fixture.Host.WaitForQuiet();

        // A test that started after this request (as the next test does when a cancelled call logs late) is not failed by it…
        Fixture.AssertNoUnexpectedErrors(InFlightRequests.Started);
        // …while the test that made the request is.
        Assert.ThrowsAny<Exception>(() => Fixture.AssertNoUnexpectedErrors(before));
    }
}
