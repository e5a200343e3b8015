using PyAirtable.Contracts.Analytics;

namespace PyAirtable.Services.Analytics.Recording;

/// <summary>A call as it is written to analytics.calls (and sent to tails).</summary>
internal readonly record struct CallRow(
    DateTime RecordedAt, string Endpoint, ApiHttpMethod Method, CallProtocol Protocol, int StatusCode, long DurationMicros,
    Guid? UserId, Guid? WorkspaceId, MetricSource Source, CallTransport Transport, string ApiVersion)
{
    /// <summary>A failed call: a gRPC status other than OK, an HTTP status of 400 or more.</summary>
    public bool IsError => Protocol == CallProtocol.Http ? StatusCode >= 400 : StatusCode != 0;

    public ApiMetrics ToContract() => new()
    {
        Endpoint = Endpoint,
        Method = Method,
        StatusCode = StatusCode,
        ResponseTimeMs = DurationMicros / 1000,
        ResponseTime = TimeSpan.FromMicroseconds(DurationMicros),
        UserId = UserId?.ToString() ?? "",
        WorkspaceId = WorkspaceId?.ToString() ?? "",
        Timestamp = RecordedAt,
        Protocol = Protocol,
        Source = Source,
        Transport = Transport,
        ApiVersion = ApiVersion,
    };

    /// <summary>A call the gateway served; ids that are not UUIDs (a service's subject) are left out.</summary>
    public static CallRow Served(in PyAirtable.Services.Infrastructure.Telemetry.ServedCall call) => new(
        call.EndedAt, call.Endpoint, ApiHttpMethod.Post, CallProtocol.Grpc, call.GrpcStatus,
        (long)call.Duration.TotalMicroseconds,
        Guid.TryParse(call.UserId, out var user) ? user : null,
        Guid.TryParse(call.WorkspaceId, out var workspace) ? workspace : null,
        MetricSource.Gateway,
        call.Transport switch
        {
            "grpc" => CallTransport.Grpc,
            "grpc_web" => CallTransport.GrpcWeb,
            "rest" => CallTransport.Rest,
            _ => CallTransport.Unspecified,
        },
        VersionOf(call.Endpoint));

    /// <summary>
    /// The API version an endpoint names: the package's (<c>v2</c> of <c>/pyairtable.users.v2.UserService/GetUser</c>) or an
    /// HTTP route's first segment (<c>v1</c> of <c>/v1/bases</c>); empty when it names none.
    /// </summary>
    public static string VersionOf(string endpoint)
    {
        // Every served call passes here: spans, and the common versions as literals, so it allocates nothing for them.
        var text = endpoint.AsSpan();
        Span<Range> parts = stackalloc Range[3];
        var count = text.Split(parts, '/', StringSplitOptions.RemoveEmptyEntries);
        if (count == 0)
        {
            return "";
        }

        var first = text[parts[0]];
        var version = first;
        var lastDot = first.LastIndexOf('.');
        if (count == 2 && lastDot > 0 && first[..lastDot].LastIndexOf('.') is var dot and >= 0)
        {
            version = first[(dot + 1)..lastDot]; // the package's last part: pyairtable.users.v2 of pyairtable.users.v2.UserService
        }

        return !IsVersion(version) ? "" : version switch
        {
            "v1" => "v1",
            "v2" => "v2",
            _ => version.ToString(),
        };
    }

    /// <summary><c>v1</c>, <c>v2</c>, <c>v1alpha1</c>: a <c>v</c>, a digit, then letters and digits; at most 16 characters.</summary>
    private static bool IsVersion(ReadOnlySpan<char> part) =>
        part.Length is >= 2 and <= 16 && part[0] == 'v' && char.IsAsciiDigit(part[1]) && !part.ContainsAnyExcept(AsciiLettersAndDigits);

    private static readonly System.Buffers.SearchValues<char> AsciiLettersAndDigits =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
}
