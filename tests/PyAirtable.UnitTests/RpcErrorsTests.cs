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
