using PyAirtable.Services.Infrastructure.Errors;

namespace PyAirtable.Host.Gateway;

/// <summary>
/// Refuses a gRPC call before it reaches a service: a trailers-only response (HTTP 200, grpc-status in
/// the headers) carrying the google.rpc.Status with ErrorInfo and the request id, which every gRPC
/// client reads as the call's status. A bare HTTP 4xx would reach clients only as UNAVAILABLE/UNKNOWN.
/// </summary>
internal static class TrailersOnlyResponse
{
    public static Task WriteAsync(HttpContext context, PlatformException error)
    {
        var rpc = RpcErrors.ToRpcException(error, context.TraceIdentifier);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = ((int)rpc.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = Uri.EscapeDataString(rpc.Status.Detail);
        foreach (var entry in rpc.Trailers)
        {
            response.Headers[entry.Key] = entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes).TrimEnd('=') : entry.Value;
        }

        return Task.CompletedTask;
    }
}
