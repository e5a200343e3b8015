using System.Net.Sockets;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Npgsql;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Services.Infrastructure.Errors;

/// <summary>
/// Turns failures into gRPC statuses carrying a <c>google.rpc.Status</c> in
/// <c>grpc-status-details-bin</c>: ErrorInfo always, BadRequest for validation, RetryInfo when a
/// retry delay is known. Any gRPC client (Python, Node, Go…) decodes these with the standard
/// googleapis protos.
/// </summary>
public static class RpcErrors
{
    /// <summary>The ErrorInfo domain of every platform error.</summary>
    public const string Domain = "pyairtable.dev";

    /// <summary>The ErrorInfo reason of a code: its proto enum value name, e.g. <c>ERROR_CODE_NOT_FOUND</c>.</summary>
    public static string Reason(ErrorCode code) => code switch
    {
        ErrorCode.Cancelled => "ERROR_CODE_CANCELLED",
        ErrorCode.InvalidArgument => "ERROR_CODE_INVALID_ARGUMENT",
        ErrorCode.DeadlineExceeded => "ERROR_CODE_DEADLINE_EXCEEDED",
        ErrorCode.NotFound => "ERROR_CODE_NOT_FOUND",
        ErrorCode.AlreadyExists => "ERROR_CODE_ALREADY_EXISTS",
        ErrorCode.PermissionDenied => "ERROR_CODE_PERMISSION_DENIED",
        ErrorCode.ResourceExhausted => "ERROR_CODE_RESOURCE_EXHAUSTED",
        ErrorCode.FailedPrecondition => "ERROR_CODE_FAILED_PRECONDITION",
        ErrorCode.Aborted => "ERROR_CODE_ABORTED",
        ErrorCode.Unimplemented => "ERROR_CODE_UNIMPLEMENTED",
        ErrorCode.Internal => "ERROR_CODE_INTERNAL",
        ErrorCode.Unavailable => "ERROR_CODE_UNAVAILABLE",
        ErrorCode.Unauthenticated => "ERROR_CODE_UNAUTHENTICATED",
        _ => "ERROR_CODE_UNSPECIFIED",
    };

    /// <summary>Builds the status of an expected error.</summary>
    public static RpcException ToRpcException(PlatformException error, string? requestId)
    {
        var info = new ErrorInfo { Reason = Reason(error.Code), Domain = Domain };
        foreach (var (key, value) in error.Metadata)
        {
            info.Metadata[key] = value;
        }

        if (!string.IsNullOrEmpty(requestId))
        {
            info.Metadata["request_id"] = requestId;
        }

        var status = new Google.Rpc.Status
        {
            Code = (int)error.Code,
            Message = error.Message,
            Details = { Any.Pack(info) },
        };

        if (error is ValidationException { Violations.Count: > 0 } validation)
        {
            var badRequest = new BadRequest();
            foreach (var violation in validation.Violations)
            {
                badRequest.FieldViolations.Add(new BadRequest.Types.FieldViolation
                {
                    Field = violation.Field,
                    Description = violation.Description,
                });
            }

            status.Details.Add(Any.Pack(badRequest));
        }

        if (error.RetryAfter is { } retryAfter)
        {
            status.Details.Add(Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(retryAfter) }));
        }

        return status.ToRpcException();
    }

    /// <summary>
    /// Classifies an exception that escaped service code. Returns the status to send and whether the
    /// exception is a bug (to be logged as an error, with nothing of it sent to the caller).
    /// </summary>
    public static (RpcException Exception, bool IsBug) Map(Exception exception, ServerCallContext context, string? requestId)
    {
        switch (exception)
        {
            // A call this service made to another host failed in the client (unreachable, reset…): its
            // text describes our topology, so the caller gets a fixed message; it is logged as a dependency failure.
            case RpcException { Status.DebugException: not null } client:
                return (ToRpcException(DownstreamFailure(client.StatusCode), requestId), false);
            case RpcException rpc:
                return (rpc, false);
            case PlatformException platform:
                return (ToRpcException(platform, requestId), false);
        }

        if (IsCancellation(exception, context))
        {
            var code = context.Deadline <= DateTime.UtcNow ? ErrorCode.DeadlineExceeded : ErrorCode.Cancelled;
            var message = code == ErrorCode.DeadlineExceeded ? "The call's deadline passed." : "The call was cancelled.";
            return (ToRpcException(new PlatformException(code, message), requestId), false);
        }

        switch (FindDatabaseError(exception))
        {
            case PostgresException { SqlState: PostgresErrorCodes.UniqueViolation }:
                return (ToRpcException(new PlatformException(ErrorCode.AlreadyExists, "A resource with the same unique key exists already."), requestId), false);
            case PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation }:
                // What the write refers to was deleted concurrently (after the call's checks passed).
                return (ToRpcException(new PlatformException(ErrorCode.NotFound, "What this refers to no longer exists."), requestId), false);
            case PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected }:
                return (ToRpcException(new PlatformException(ErrorCode.Aborted, "The operation conflicted with a concurrent one; retry it."), requestId), false);
            case PostgresException { SqlState: PostgresErrorCodes.QueryCanceled }:
                // A statement_timeout fired (call cancellation was handled above).
                return (ToRpcException(new PlatformException(ErrorCode.DeadlineExceeded, "The database did not answer in time."), requestId), false);
            // Transient server states, no route to the server, or a pool that stayed busy past Database:PoolWaitTimeout.
            case NpgsqlException { IsTransient: true } or NpgsqlException { InnerException: TimeoutException } or SocketException or TimeoutException:
                return (ToRpcException(new PlatformException(ErrorCode.Unavailable, "The database is unavailable; retry with backoff.") { RetryAfter = TimeSpan.FromSeconds(1) }, requestId), false);
        }

        if (exception is SharedState.SharedStateUnavailableException or StackExchange.Redis.RedisConnectionException or StackExchange.Redis.RedisTimeoutException)
        {
            return (ToRpcException(new PlatformException(ErrorCode.Unavailable, "The cache is unavailable; retry with backoff.") { RetryAfter = TimeSpan.FromSeconds(1) }, requestId), false);
        }

        var internalError = new PlatformException(ErrorCode.Internal,
            string.IsNullOrEmpty(requestId) ? "Internal error." : $"Internal error. Quote request id {requestId} when reporting it.");
        return (ToRpcException(internalError, requestId), true);
    }

    private static PlatformException DownstreamFailure(StatusCode status) => status switch
    {
        StatusCode.DeadlineExceeded => new PlatformException(ErrorCode.DeadlineExceeded, "A service this call depends on did not answer in time."),
        StatusCode.Cancelled => new PlatformException(ErrorCode.Cancelled, "The call was cancelled."),
        _ => new PlatformException(ErrorCode.Unavailable, "A service this call depends on is unavailable; retry with backoff.") { RetryAfter = TimeSpan.FromSeconds(1) },
    };

    private const string RequestCompleteOnRead = "Can't read messages after the request is complete.";
    private const string RequestCompleteOnWrite = "Can't write the message because the request is complete.";

    private static bool IsCancellation(Exception exception, ServerCallContext context)
    {
        // The client reset the stream: Kestrel fails the pending read or write with an IOException,
        // sometimes before the call's token is signalled. That is the peer leaving, not a bug.
        if (exception is IOException and not Microsoft.AspNetCore.Http.BadHttpRequestException
            && exception.StackTrace?.Contains("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal) == true)
        {
            return true;
        }

        // A stream read or written after the client reset the call: grpc-dotnet fails it with these (its own tests
        // file them under cancellation), built with Task.FromException, so no Kestrel frame shows in the trace.
        if (exception is InvalidOperationException { Message: RequestCompleteOnRead or RequestCompleteOnWrite }
            && context.GetHttpContext().RequestAborted.IsCancellationRequested)
        {
            return true;
        }

        if (!context.CancellationToken.IsCancellationRequested)
        {
            return false;
        }

        return exception is OperationCanceledException
            || FindDatabaseError(exception) is PostgresException { SqlState: PostgresErrorCodes.QueryCanceled }
            || exception.InnerException is OperationCanceledException;
    }

    private static Exception? FindDatabaseError(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is NpgsqlException or SocketException or TimeoutException)
            {
                return current;
            }
        }

        return null;
    }
}
