using System.Buffers;
using System.Globalization;
using Microsoft.Extensions.Primitives;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Health;
using PyAirtable.Services.Infrastructure.Requests;

namespace PyAirtable.Host.Gateway;

/// <summary>
/// The first step of every request: settles its request id (the caller's <c>x-request-id</c> when
/// it is sane, else a new one), echoes it in the response headers, opens a logging scope with it
/// so every log line of the request carries it, and installs the <see cref="RequestMetadata"/> that
/// service code reads. Once the host is draining, new gRPC calls are refused with UNAVAILABLE.
/// </summary>
/// <remarks>
/// This is the request's only logging scope: ASP.NET Core's hosting scope (request id and path) is switched off in
/// PlatformHost, and this one carries both. Each scope costs every request an entry in the async context, pushed and popped.
/// </remarks>
internal sealed class RequestContextMiddleware(RequestDelegate next, ShutdownState shutdown, TimeProvider time, ILogger<RequestContextMiddleware> logger)
{
    private const int MaxRequestIdLength = 128;
    private static readonly SearchValues<char> RequestIdChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/+=");

    public async Task InvokeAsync(HttpContext context)
    {
        var requestId = AcceptRequestId(context.Request.Headers[RequestMetadataExtensions.RequestIdHeader]) ?? NewRequestId();
        context.TraceIdentifier = requestId;
        context.Response.Headers[RequestMetadataExtensions.RequestIdHeader] = requestId;

        context.Features.Set<IRequestMetadataFeature>(GatewayRequestMetadata.Of(context, requestId, time.GetUtcNow().UtcDateTime));

        using (logger.BeginScope(new RequestScope(requestId, context.Request.Path.Value ?? "")))
        {
            if (shutdown.RefusingCalls && IsGrpc(context.Request))
            {
                RefuseDuringShutdown(context.Response);
                return;
            }

            if (MetadataSize(context.Request.Headers) > MaxMetadataBytes && IsGrpc(context.Request))
            {
                // Kestrel's own limits (set higher, see PlatformHost) would end the whole HTTP/2 connection and
                // every call on it; refusing here ends only this call. RESOURCE_EXHAUSTED, as gRPC specifies.
                await TrailersOnlyResponse.WriteAsync(context, new PlatformException(ErrorCode.ResourceExhausted,
                    $"The call's metadata (headers) exceeds {MaxMetadataBytes / 1024} KiB.",
                    new Dictionary<string, string> { ["limit"] = "metadata_size", ["max_bytes"] = MaxMetadataBytes.ToString(CultureInfo.InvariantCulture) }));
                return;
            }

            await next(context);
        }
    }

    /// <summary>The most metadata one call may carry (gRPC's usual 8 KiB default, doubled).</summary>
    internal const int MaxMetadataBytes = 16 * 1024;

    /// <summary>Metadata size as HTTP/2 counts it for SETTINGS_MAX_HEADER_LIST_SIZE: name + value + 32 per entry.</summary>
    private static long MetadataSize(IHeaderDictionary headers)
    {
        long size = 0;
        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
            {
                size += name.Length + (value?.Length ?? 0) + 32;
            }
        }

        return size;
    }

    internal static string? AcceptRequestId(StringValues header)
    {
        if (header.Count != 1)
        {
            return null;
        }

        var value = header[0];
        // Only ids that are safe to echo into headers and logs are kept; others are replaced.
        return string.IsNullOrEmpty(value) || value.Length > MaxRequestIdLength || value.AsSpan().ContainsAnyExcept(RequestIdChars)
            ? null
            : value;
    }

    private static string NewRequestId() => Guid.CreateVersion7().ToString("N");

    internal static bool IsGrpc(HttpRequest request) =>
        request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

    private static void RefuseDuringShutdown(HttpResponse response)
    {
        // A trailers-only gRPC response: clients see UNAVAILABLE and retry on another instance.
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = "14";
        response.Headers["grpc-message"] = "The server is shutting down; retry on another instance.";
    }

    /// <summary>
    /// A logging scope that renders as <c>RequestId:… RequestPath:…</c> (the path of a gRPC call is its method) and carries both
    /// as structured values.
    /// </summary>
    internal sealed class RequestScope(string requestId, string path) : IReadOnlyList<KeyValuePair<string, object>>
    {
        public KeyValuePair<string, object> this[int index] => index switch
        {
            0 => new("RequestId", requestId),
            1 => new("RequestPath", path),
            _ => throw new ArgumentOutOfRangeException(nameof(index)),
        };

        public int Count => 2;

        public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
        {
            yield return this[0];
            yield return this[1];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => $"RequestId:{requestId} RequestPath:{path}";
    }
}
