using Google.Rpc;
using Grpc.Core;
using Npgsql;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;

namespace PyAirtable.UnitTests;

public sealed class RpcErrorsTests
{
    [Fact]
    public void Reason_EveryErrorCode_IsItsProtoEnumName()
    {
        foreach (var code in Enum.GetValues<ErrorCode>())
        {
            var member = typeof(ErrorCode).GetField(code.ToString())!;
            var protoName = ((ProtoBuf.ProtoEnumAttribute)Attribute.GetCustomAttribute(member, typeof(ProtoBuf.ProtoEnumAttribute))!).Name;
            Assert.Equal(protoName, RpcErrors.Reason(code));
        }
    }

    [Fact]
    public void ErrorCode_Values_AreTheCanonicalGrpcCodes()
    {
        foreach (var code in Enum.GetValues<ErrorCode>().Where(c => c != ErrorCode.Unspecified))
        {
            Assert.True(Enum.IsDefined((StatusCode)(int)code), code.ToString());
            Assert.Equal(code.ToString(), ((StatusCode)(int)code).ToString());
        }
    }

    [Fact]
    public void ToRpcException_WithRetryAfter_CarriesRetryInfo()
    {
        var error = new PlatformException(ErrorCode.ResourceExhausted, "slow down") { RetryAfter = TimeSpan.FromSeconds(30) };

        var status = RpcErrors.ToRpcException(error, "rid").GetRpcStatus()!;

        Assert.Equal(TimeSpan.FromSeconds(30), status.GetDetail<RetryInfo>().RetryDelay.ToTimeSpan());
        Assert.Equal("ERROR_CODE_RESOURCE_EXHAUSTED", status.GetDetail<ErrorInfo>().Reason);
    }

    [Fact]
    public void Validator_CollectsEveryViolationBeforeThrowing()
    {
        var ex = Assert.Throws<ValidationException>(() => new RequestValidator()
            .Required("email", " ")
            .MaxLength("display_name", new string('x', 5), 4)
            .Range("age", 200, 0, 150)
            .ThrowIfInvalid());

        Assert.Equal(["email", "display_name", "age"], ex.Violations.Select(v => v.Field));
    }

    [Fact]
    public void PlatformException_Unspecified_IsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PlatformException(ErrorCode.Unspecified, "x"));
    }

    [Fact]
    public void Map_TransientDatabaseError_IsUnavailable()
    {
        var context = new FakeCallContext();

        var (rpc, isBug) = RpcErrors.Map(new NpgsqlException("boom", new System.Net.Sockets.SocketException(111)), context, "r");

        Assert.False(isBug);
        Assert.Equal(StatusCode.Unavailable, rpc.StatusCode);
    }

    [Fact]
    public void Map_UnknownException_IsInternalBugWithoutItsMessage()
    {
        var (rpc, isBug) = RpcErrors.Map(new InvalidOperationException("secret"), new FakeCallContext(), "r1");

        Assert.True(isBug);
        Assert.Equal(StatusCode.Internal, rpc.StatusCode);
        Assert.DoesNotContain("secret", rpc.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("r1", rpc.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Map_CancelledCallPastDeadline_IsDeadlineExceeded()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var context = new FakeCallContext(DateTime.UtcNow.AddSeconds(-1), cts.Token);

        var (rpc, _) = RpcErrors.Map(new OperationCanceledException(), context, "r");

        Assert.Equal(StatusCode.DeadlineExceeded, rpc.StatusCode);
    }

    [Theory]
    [InlineData(PostgresErrorCodes.ForeignKeyViolation, StatusCode.NotFound)]
    [InlineData(PostgresErrorCodes.UniqueViolation, StatusCode.AlreadyExists)]
    [InlineData(PostgresErrorCodes.SerializationFailure, StatusCode.Aborted)]
    public void DatabaseConstraintErrors_MapToCanonicalCodes_NotInternal(string sqlState, StatusCode expected)
    {
        var (rpc, isBug) = RpcErrors.Map(new PostgresException("detail with constraint_name", "ERROR", "ERROR", sqlState), new FakeCallContext(), "r");

        Assert.Equal(expected, rpc.StatusCode);
        Assert.False(isBug); // not logged as an error: a concurrent change, not a defect
        Assert.DoesNotContain("constraint_name", rpc.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void ToRpcException_CarriesTheErrorsMetadata_TheRequestIdWhenKnown_AndEveryFieldViolation()
    {
        var notFound = Assert.Throws<PlatformException>(() => Fail.NotFound("workspace", "w1"));
        var info = RpcErrors.ToRpcException(notFound, "rid-1").GetRpcStatus()!.GetDetail<ErrorInfo>();
        Assert.Equal("workspace", info.Metadata["resource_type"]);
        Assert.Equal("w1", info.Metadata["resource_id"]);
        Assert.Equal("rid-1", info.Metadata["request_id"]);
        Assert.Equal(RpcErrors.Domain, info.Domain);
        Assert.Contains("w1", notFound.Message, StringComparison.Ordinal);

        var exists = Assert.Throws<PlatformException>(() => Fail.AlreadyExists("base", "A base with that name exists."));
        Assert.Equal("base", RpcErrors.ToRpcException(exists, null).GetRpcStatus()!.GetDetail<ErrorInfo>().Metadata["resource_type"]);
        Assert.False(RpcErrors.ToRpcException(exists, null).GetRpcStatus()!.GetDetail<ErrorInfo>().Metadata.ContainsKey("request_id"));
        Assert.False(RpcErrors.ToRpcException(exists, "").GetRpcStatus()!.GetDetail<ErrorInfo>().Metadata.ContainsKey("request_id"));

        var invalid = new ValidationException([new FieldViolation("name", "is required"), new FieldViolation("page_size", "too big")]);
        var badRequest = RpcErrors.ToRpcException(invalid, "r").GetRpcStatus()!.GetDetail<BadRequest>();
        Assert.Equal([("name", "is required"), ("page_size", "too big")], badRequest.FieldViolations.Select(v => (v.Field, v.Description)));
        Assert.Null(RpcErrors.ToRpcException(new ValidationException("bad", new FormatException()), "r").GetRpcStatus()!.GetDetail<BadRequest>());
    }

    [Fact]
    public void Map_ExpectedErrors_AreNotBugs()
    {
        var platform = RpcErrors.Map(new PlatformException(ErrorCode.NotFound, "gone"), new FakeCallContext(), "r");
        Assert.Equal((StatusCode.NotFound, false), (platform.Exception.StatusCode, platform.IsBug));

        var rpc = new RpcException(new Grpc.Core.Status(StatusCode.PermissionDenied, "no"));
        var passed = RpcErrors.Map(rpc, new FakeCallContext(), "r");
        Assert.Same(rpc, passed.Exception);
        Assert.False(passed.IsBug);
    }

    [Theory]
    [InlineData(StatusCode.DeadlineExceeded, StatusCode.DeadlineExceeded)]
    [InlineData(StatusCode.Cancelled, StatusCode.Cancelled)]
    [InlineData(StatusCode.Unavailable, StatusCode.Unavailable)]
    [InlineData(StatusCode.Internal, StatusCode.Unavailable)]
    public void Map_AFailedCallToAnotherHost_HidesItsText_AndIsNotABug(StatusCode failed, StatusCode expected)
    {
        var client = new RpcException(new Grpc.Core.Status(failed, "connect to 10.1.2.3:5001 failed", new IOException("reset")));
        var (rpc, isBug) = RpcErrors.Map(client, new FakeCallContext(), "r");
        Assert.Equal(expected, rpc.StatusCode);
        Assert.False(isBug);
        Assert.DoesNotContain("10.1.2.3", rpc.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(expected == StatusCode.Unavailable, rpc.GetRpcStatus()!.GetDetail<RetryInfo>() is not null);
    }

    [Fact]
    public void Map_ACancelledCall_IsCancelledOrDeadlineExceeded_WhicheverHappened_AndNotABug()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var cancelled = new FakeCallContext(DateTime.UtcNow.AddMinutes(1), cts.Token);
        var late = new FakeCallContext(DateTime.UtcNow.AddSeconds(-1), cts.Token);

        foreach (var exception in new Exception[]
        {
            new OperationCanceledException(),
            new PostgresException("canceling statement due to user request", "ERROR", "ERROR", PostgresErrorCodes.QueryCanceled),
            new InvalidOperationException("wrapped", new TaskCanceledException()),
        })
        {
            var (rpc, isBug) = RpcErrors.Map(exception, cancelled, "r");
            Assert.Equal((StatusCode.Cancelled, false), (rpc.StatusCode, isBug));
            Assert.Contains("cancelled", rpc.Status.Detail, StringComparison.Ordinal);

            (rpc, isBug) = RpcErrors.Map(exception, late, "r");
            Assert.Equal((StatusCode.DeadlineExceeded, false), (rpc.StatusCode, isBug));
            Assert.Contains("deadline", rpc.Status.Detail, StringComparison.Ordinal);
        }

        // The same exceptions while the call is still wanted are not a cancellation.
        Assert.True(RpcErrors.Map(new InvalidOperationException("wrapped", new TaskCanceledException()), new FakeCallContext(), "r").IsBug);
    }

    [Fact]
    public void Map_DatabaseTimeoutsAndOutages_AreRetryable_AndNotBugs()
    {
        var (timeout, timeoutIsBug) = RpcErrors.Map(
            new PostgresException("canceling statement due to statement timeout", "ERROR", "ERROR", PostgresErrorCodes.QueryCanceled), new FakeCallContext(), "r");
        Assert.Equal((StatusCode.DeadlineExceeded, false), (timeout.StatusCode, timeoutIsBug));

        var (down, downIsBug) = RpcErrors.Map(new NpgsqlException("boom", new System.Net.Sockets.SocketException(111)), new FakeCallContext(), "r");
        Assert.False(downIsBug);
        Assert.Equal(TimeSpan.FromSeconds(1), down.GetRpcStatus()!.GetDetail<RetryInfo>().RetryDelay.ToTimeSpan());
    }

    [Fact]
    public void Map_TheSharedStateUnavailable_IsUnavailable_Retryable_AndNotABug()
    {
        foreach (var exception in new Exception[]
        {
            new Services.Infrastructure.SharedState.SharedStateUnavailableException("Redis is unavailable"),
            new StackExchange.Redis.RedisConnectionException(StackExchange.Redis.ConnectionFailureType.SocketFailure, "down"),
        })
        {
            var (rpc, isBug) = RpcErrors.Map(exception, new FakeCallContext(), "r");
            Assert.Equal((StatusCode.Unavailable, false), (rpc.StatusCode, isBug));
            Assert.Equal(TimeSpan.FromSeconds(1), rpc.GetRpcStatus()!.GetDetail<RetryInfo>().RetryDelay.ToTimeSpan());
        }
    }

    [Fact]
    public void Map_TheClientResettingTheStream_IsACancellation_WhileTheSameFailureElsewhereIsABug()
    {
        var reset = Microsoft.AspNetCore.Server.Kestrel.Testing.KestrelFrames.Thrown(new IOException("The client reset the request stream."));
        var (rpc, isBug) = RpcErrors.Map(reset, new FakeCallContext(), "r"); // before the call's token is signalled
        Assert.Equal((StatusCode.Cancelled, false), (rpc.StatusCode, isBug));

        Assert.True(RpcErrors.Map(Thrown(new IOException("disk full")), new FakeCallContext(), "r").IsBug);
        Assert.True(RpcErrors.Map(Microsoft.AspNetCore.Server.Kestrel.Testing.KestrelFrames.Thrown(new InvalidOperationException("a Kestrel bug")),
            new FakeCallContext(), "r").IsBug);
    }

    private static Exception Thrown(Exception exception)
    {
        try
        {
            throw exception;
        }
        catch (Exception caught)
        {
            return caught;
        }
    }

    [Fact]
    public void Map_ABug_WithoutARequestId_DoesNotPromiseOne()
    {
        var (rpc, isBug) = RpcErrors.Map(new InvalidOperationException("secret"), new FakeCallContext(), null);
        Assert.True(isBug);
        Assert.DoesNotContain("request id", rpc.Status.Detail, StringComparison.Ordinal);
        Assert.NotEmpty(rpc.Status.Detail);
    }

    private sealed class FakeCallContext(DateTime? deadline = null, CancellationToken token = default) : ServerCallContext
    {
        protected override string MethodCore => "/test/Method";
        protected override string HostCore => "localhost";
        protected override string PeerCore => "ipv4:127.0.0.1:1";
        protected override DateTime DeadlineCore => deadline ?? DateTime.MaxValue;
        protected override Metadata RequestHeadersCore => [];
        protected override CancellationToken CancellationTokenCore => token;
        protected override Metadata ResponseTrailersCore => [];
        protected override Grpc.Core.Status StatusCore { get; set; }
        protected override WriteOptions? WriteOptionsCore { get; set; }
        protected override AuthContext AuthContextCore => new(null, []);
        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();
        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }
}
