using System.Diagnostics;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Http.Features;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Telemetry;

namespace PyAirtable.Host.Telemetry;

/// <summary>
/// Times every gRPC call and records it with its method and gRPC status, as a metric and, when the Analytics service
/// runs in this host, as an analytics record (<see cref="ICallRecorder"/>: a non-blocking hand-off to its buffer). A
/// middleware, not an interceptor, so calls the gateway refuses before any service code (draining, oversized
/// metadata, unauthenticated) are counted with the status their caller saw.
/// </summary>
internal sealed class RpcMetricsMiddleware(RequestDelegate next, PlatformMetrics metrics, IServiceProvider services)
{
    private readonly ICallRecorder? _recorder = services.GetService<ICallRecorder>() is { Enabled: true } recorder ? recorder : null;

    public async Task InvokeAsync(HttpContext context)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            // Routing ran before this middleware: the endpoint names the method from a fixed set, never the raw
            // path a caller sent (which would let callers grow the series without bound).
            if (context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is { } grpc)
            {
                var elapsed = Stopwatch.GetElapsedTime(start);
                var status = GrpcStatus(context);
                var transport = context.Features.Get<Gateway.Rest.CallProtocolFeature>()?.Name ?? "grpc";
                metrics.RecordRpc(grpc.Method.ServiceName, grpc.Method.Name, status, elapsed.TotalSeconds, transport);
                // The caller as authenticated (the principal outlives the pipeline that set it); the workspace when the
                // request named one (CallWorkspaceNotes), never looked up.
                _recorder?.Record(new ServedCall(DateTime.UtcNow, grpc.Method.FullName, status, elapsed,
                    Gateway.Authentication.GatewayAuthentication.AuthenticatedUser(context)?.FindFirst(PlatformClaims.Subject)?.Value, context.Features.Get<CallWorkspaceFeature>()?.WorkspaceId,
                    transport));
            }
        }
    }

    /// <summary>The status in the trailers, or in the headers of a trailers-only response; 2 (UNKNOWN) when neither has one.</summary>
    private static int GrpcStatus(HttpContext context)
    {
        var value = context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers["grpc-status"] ?? default;
        if (value.Count == 0)
        {
            value = context.Response.Headers["grpc-status"];
        }

        return value.Count == 1 && int.TryParse(value[0], out var status) ? status : 2;
    }
}
