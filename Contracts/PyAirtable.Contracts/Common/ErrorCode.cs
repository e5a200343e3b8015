using ProtoBuf;

namespace PyAirtable.Contracts.Common;

/// <summary>
/// Platform error codes. The numbers equal the canonical gRPC status codes so a client can map
/// either way; the name of a value (for example <c>ERROR_CODE_NOT_FOUND</c>) is the
/// <c>reason</c> of the <c>google.rpc.ErrorInfo</c> detail sent with every expected error.
/// </summary>
[ProtoContract(Name = "ErrorCode")]
public enum ErrorCode
{
    /// <summary>Not set.</summary>
    [ProtoEnum(Name = "ERROR_CODE_UNSPECIFIED")] Unspecified = 0,
    /// <summary>The caller cancelled the call.</summary>
    [ProtoEnum(Name = "ERROR_CODE_CANCELLED")] Cancelled = 1,
    /// <summary>A request field is missing, malformed or out of range; see the BadRequest field violations.</summary>
    [ProtoEnum(Name = "ERROR_CODE_INVALID_ARGUMENT")] InvalidArgument = 3,
    /// <summary>The call's deadline passed before the work finished.</summary>
    [ProtoEnum(Name = "ERROR_CODE_DEADLINE_EXCEEDED")] DeadlineExceeded = 4,
    /// <summary>The resource does not exist, or the caller may not know that it exists.</summary>
    [ProtoEnum(Name = "ERROR_CODE_NOT_FOUND")] NotFound = 5,
    /// <summary>The resource the caller tried to create exists already.</summary>
    [ProtoEnum(Name = "ERROR_CODE_ALREADY_EXISTS")] AlreadyExists = 6,
    /// <summary>The caller is known but may not do this.</summary>
    [ProtoEnum(Name = "ERROR_CODE_PERMISSION_DENIED")] PermissionDenied = 7,
    /// <summary>A quota or rate limit is exhausted; retry after the delay in the RetryInfo detail.</summary>
    [ProtoEnum(Name = "ERROR_CODE_RESOURCE_EXHAUSTED")] ResourceExhausted = 8,
    /// <summary>The system is not in the state the operation requires (for example a stale etag).</summary>
    [ProtoEnum(Name = "ERROR_CODE_FAILED_PRECONDITION")] FailedPrecondition = 9,
    /// <summary>The operation conflicted with a concurrent one; retrying the whole read-modify-write may succeed.</summary>
    [ProtoEnum(Name = "ERROR_CODE_ABORTED")] Aborted = 10,
    /// <summary>The method is not implemented by this server.</summary>
    [ProtoEnum(Name = "ERROR_CODE_UNIMPLEMENTED")] Unimplemented = 12,
    /// <summary>An unexpected server error; the message carries only a request id to quote.</summary>
    [ProtoEnum(Name = "ERROR_CODE_INTERNAL")] Internal = 13,
    /// <summary>A dependency (database, cache, another service) is unreachable; safe to retry with backoff.</summary>
    [ProtoEnum(Name = "ERROR_CODE_UNAVAILABLE")] Unavailable = 14,
    /// <summary>The call carries no valid credentials.</summary>
    [ProtoEnum(Name = "ERROR_CODE_UNAUTHENTICATED")] Unauthenticated = 16,
}
