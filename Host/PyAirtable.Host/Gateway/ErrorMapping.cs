using Grpc.Core;
using PyAirtable.Services.Infrastructure.Errors;

namespace PyAirtable.Host.Gateway;

/// <summary>
/// The one place where failures become gRPC statuses (see <see cref="RpcErrors"/>), applied to every call by
/// <see cref="GatewayInterceptor"/>: expected errors keep their message and details; anything else is INTERNAL with nothing
/// of the exception sent, logged at error level with the request id (the logging scope carries it).
/// </summary>
internal sealed partial class ErrorMapping(ILogger<ErrorMapping> logger)
{
    /// <summary>The status a caller sees for <paramref name="exception"/>; logs what an operator needs to see.</summary>
    public RpcException Translate(Exception exception, ServerCallContext context)
    {
        var requestId = context.GetHttpContext().TraceIdentifier;
        var (rpc, isBug) = RpcErrors.Map(exception, context, requestId);
        if (isBug)
        {
            LogUnexpected(logger, exception, context.Method);
        }
        else if (rpc.StatusCode is StatusCode.Unavailable or StatusCode.Aborted)
        {
            LogDependency(logger, context.Method, rpc.StatusCode, exception.Message);
        }

        return rpc;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected error in {Method}; the caller got INTERNAL")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string method);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} failed with {StatusCode}: {Reason}")]
    private static partial void LogDependency(ILogger logger, string method, StatusCode statusCode, string reason);
}
