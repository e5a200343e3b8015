using Grpc.Core;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Services.Infrastructure.Errors;

/// <summary>
/// An expected failure of a call: its message is meant for the caller and is sent as the gRPC
/// status detail, with an ErrorInfo whose reason is the <see cref="ErrorCode"/> name.
/// Anything that is not a <see cref="PlatformException"/> (or an <see cref="RpcException"/>) is
/// treated as a bug: INTERNAL, with no text of it leaked.
/// </summary>
public class PlatformException : Exception
{
    public PlatformException(ErrorCode code, string message, IReadOnlyDictionary<string, string>? metadata = null, Exception? inner = null)
        : base(message, inner)
    {
        if (code == ErrorCode.Unspecified)
        {
            throw new ArgumentOutOfRangeException(nameof(code), "An error needs a code.");
        }

        Code = code;
        Metadata = metadata ?? new Dictionary<string, string>();
    }

    public PlatformException() : this(ErrorCode.Internal, "Internal error.") { }

    public PlatformException(string message) : this(ErrorCode.Internal, message) { }

    public PlatformException(string message, Exception inner) : this(ErrorCode.Internal, message, null, inner) { }

    public ErrorCode Code { get; }

    /// <summary>The gRPC status code; <see cref="ErrorCode"/> values equal the canonical codes.</summary>
    public StatusCode StatusCode => (StatusCode)(int)Code;

    /// <summary>Machine-readable context sent as ErrorInfo metadata (never secrets).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>When set, sent as a google.rpc.RetryInfo detail (for RESOURCE_EXHAUSTED, UNAVAILABLE).</summary>
    public TimeSpan? RetryAfter { get; init; }
}

/// <summary>One invalid request field, sent as a google.rpc.BadRequest field violation.</summary>
/// <param name="Field">The field path in proto (lower_snake_case) naming, e.g. <c>pagination.page_size</c>.</param>
/// <param name="Description">Why it is invalid, for a developer.</param>
public sealed record FieldViolation(string Field, string Description);

/// <summary>INVALID_ARGUMENT with the field violations that caused it.</summary>
public sealed class ValidationException : PlatformException
{
    public ValidationException(IReadOnlyList<FieldViolation> violations)
        : base(ErrorCode.InvalidArgument, Describe(violations))
    {
        Violations = violations;
    }

    public ValidationException(string field, string description)
        : this([new FieldViolation(field, description)]) { }

    public ValidationException() : this([]) { }

    public ValidationException(string message) : this("request", message) { }

    public ValidationException(string message, Exception inner) : base(ErrorCode.InvalidArgument, message, null, inner)
    {
        Violations = [];
    }

    public IReadOnlyList<FieldViolation> Violations { get; }

    private static string Describe(IReadOnlyList<FieldViolation> violations) => violations.Count switch
    {
        0 => "The request is invalid.",
        1 => $"Invalid {violations[0].Field}: {violations[0].Description}",
        _ => $"The request has {violations.Count} invalid fields: {string.Join(", ", violations.Select(v => v.Field))}.",
    };
}
