using Grpc.Core;
using Microsoft.AspNetCore.Http;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Services.Infrastructure.Requests;

/// <summary>
/// The request's <see cref="RequestMetadata"/>, set by the gateway layer on the HTTP context before
/// any service code runs.
/// </summary>
public interface IRequestMetadataFeature
{
    RequestMetadata Metadata { get; set; }

    /// <summary>The authenticated caller (null: anonymous); a feature that builds the metadata on demand answers it without.</summary>
    UserContext? Caller => Metadata.UserContext;
}

/// <inheritdoc />
public sealed class RequestMetadataFeature(RequestMetadata metadata) : IRequestMetadataFeature
{
    public RequestMetadata Metadata { get; set; } = metadata;
}

/// <summary>How service code reads the metadata of the call it serves.</summary>
public static class RequestMetadataExtensions
{
    /// <summary>The header that carries the request id in both directions.</summary>
    public const string RequestIdHeader = "x-request-id";

    /// <summary>
    /// The client's address as the calling proxy or platform host established it; believed only from a trusted peer (the
    /// host's ForwardedHeaders settings, or a platform client certificate).
    /// </summary>
    public const string ForwardedForHeader = "x-forwarded-for";

    public static RequestMetadata GetRequestMetadata(this HttpContext httpContext) =>
        httpContext.Features.Get<IRequestMetadataFeature>()?.Metadata
        ?? throw new InvalidOperationException("The gateway pipeline did not run for this request (UsePlatformGateway missing).");

    public static RequestMetadata GetRequestMetadata(this ServerCallContext context) =>
        context.GetHttpContext().GetRequestMetadata();

    /// <summary>
    /// The first value of a request header, or null. Read from the HTTP request: <see cref="ServerCallContext.RequestHeaders"/>
    /// copies every header into gRPC metadata (names lower-cased) on first use, a cost on every call of a hot read.
    /// </summary>
    public static string? GetRequestHeader(this CallContext context, string name)
    {
        // GetHttpContext finds an in-process call's context too (InProcessServerCall).
        return context.ServerCallContext?.GetHttpContext().Request.Headers.TryGetValue(name, out var values) == true && values.Count > 0
            ? values[0]
            : null;
    }

    /// <summary>The call's authenticated caller (null: anonymous), without building the rest of its metadata.</summary>
    public static UserContext? GetCallerContext(this CallContext context) =>
        (context.ServerCallContext ?? throw new InvalidOperationException("Request metadata exists only on the server side of a call."))
        .GetHttpContext().Features.Get<IRequestMetadataFeature>() is { } feature
            ? feature.Caller
            : throw new InvalidOperationException("The gateway pipeline did not run for this request (UsePlatformGateway missing).");

    /// <summary>For protobuf-net.Grpc methods that take a <see cref="CallContext"/>.</summary>
    public static RequestMetadata GetRequestMetadata(this CallContext context) =>
        context.ServerCallContext?.GetRequestMetadata()
        ?? throw new InvalidOperationException("Request metadata exists only on the server side of a call.");
}
