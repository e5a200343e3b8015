using PyAirtable.Contracts.Analytics;
using PyAirtable.Services.Infrastructure.Errors;

namespace PyAirtable.Services.Analytics;

/// <summary>Input rules of the Analytics RPCs.</summary>
internal static class AnalyticsRequests
{
    public const int MaxEndpointLength = 256;
    public const int MaxMetricsPerMessage = 1_000;
    public const int MaxMetricsPerCall = 10_000;
    public const int MaxRejectionsListed = 100;
    public const int MaxWorkspacesPerCall = 100;
    public const int MaxBuckets = 1_000;
    public static readonly TimeSpan MaxRange = TimeSpan.FromDays(400);
    public static readonly TimeSpan MaxIngestAge = TimeSpan.FromHours(1);
    public static readonly TimeSpan MaxIngestSkew = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan MaxResponseTime = TimeSpan.FromHours(1);

    /// <summary>An optional workspace id: empty is null, anything else must be a UUID.</summary>
    public static Guid? WorkspaceOf(RequestValidator validator, string field, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (!Guid.TryParse(value, out var id) || id == Guid.Empty)
        {
            validator.Add(field, "must be a workspace id (a UUID) or empty");
            return null;
        }

        return id;
    }

    /// <summary>An endpoint: at most 256 printable characters; empty is null unless <paramref name="required"/>.</summary>
    public static string? EndpointOf(RequestValidator validator, string field, string? value, bool required)
    {
        if (string.IsNullOrEmpty(value))
        {
            if (required)
            {
                validator.Add(field, "is required");
            }

            return null;
        }

        if (value.Length > MaxEndpointLength || value.Any(char.IsControl) || value.Any(char.IsWhiteSpace))
        {
            validator.Add(field, $"must be at most {MaxEndpointLength} characters, without spaces or control characters");
            return null;
        }

        return value;
    }

    public static DateTime Utc(DateTime value) =>
        value.Kind == DateTimeKind.Utc ? value : DateTime.SpecifyKind(value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value, DateTimeKind.Utc);

    public static DateTime ToMicroseconds(DateTime value) => new(value.Ticks - value.Ticks % TimeSpan.TicksPerMicrosecond, value.Kind);

    /// <summary>True when the status code is one <paramref name="protocol"/> has.</summary>
    public static bool IsValidStatus(CallProtocol protocol, int status) => protocol switch
    {
        CallProtocol.Grpc => status is >= 0 and <= 16,
        CallProtocol.Http => status is >= 100 and <= 599,
        _ => false,
    };
}
