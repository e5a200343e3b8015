using System.Diagnostics.CodeAnalysis;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Services.Infrastructure.Errors;

/// <summary>Small throw helpers so service code reads as a sequence of checks.</summary>
public static class Fail
{
    [DoesNotReturn]
    public static void NotFound(string resourceType, string id) =>
        throw new PlatformException(ErrorCode.NotFound, $"{resourceType} '{id}' was not found.",
            new Dictionary<string, string> { ["resource_type"] = resourceType, ["resource_id"] = id });

    [DoesNotReturn]
    public static void AlreadyExists(string resourceType, string message) =>
        throw new PlatformException(ErrorCode.AlreadyExists, message,
            new Dictionary<string, string> { ["resource_type"] = resourceType });

    [DoesNotReturn]
    public static void PermissionDenied(string message) =>
        throw new PlatformException(ErrorCode.PermissionDenied, message);

    [DoesNotReturn]
    public static void Unauthenticated(string message) =>
        throw new PlatformException(ErrorCode.Unauthenticated, message);

    [DoesNotReturn]
    public static void FailedPrecondition(string message, IReadOnlyDictionary<string, string>? metadata = null) =>
        throw new PlatformException(ErrorCode.FailedPrecondition, message, metadata);

    [DoesNotReturn]
    public static void Invalid(string field, string description) =>
        throw new ValidationException(field, description);
}

/// <summary>
/// Collects every field violation of a request before failing, so a client learns all of them
/// from one call.
/// </summary>
public sealed class RequestValidator
{
    private List<FieldViolation>? _violations;

    public bool IsValid => _violations is null;

    public RequestValidator Add(string field, string description)
    {
        (_violations ??= []).Add(new FieldViolation(field, description));
        return this;
    }

    public RequestValidator Required(string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            Add(field, "is required");
        }

        return this;
    }

    public RequestValidator MaxLength(string field, string? value, int max)
    {
        if (value is not null && value.Length > max)
        {
            Add(field, $"must be at most {max} characters");
        }

        return this;
    }

    public RequestValidator Range(string field, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            Add(field, $"must be between {min} and {max}");
        }

        return this;
    }

    public void ThrowIfInvalid()
    {
        if (_violations is not null)
        {
            throw new ValidationException(_violations);
        }
    }
}
