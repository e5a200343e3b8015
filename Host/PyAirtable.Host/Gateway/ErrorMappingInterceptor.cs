using Grpc.Core;
using Grpc.Core.Interceptors;
using PyAirtable.Services.Infrastructure.Errors;

namespace PyAirtable.Host.Gateway;

/// <summary>
/// The one place where failures become gRPC statuses (see <see cref="RpcErrors"/>): expected errors
/// keep their message and details; anything else is INTERNAL with nothing of the exception sent,
/// logged at error level with the request id (the logging scope carries it).
/// </summary>
internal sealed partial class ErrorMappingInterceptor(ILogger<ErrorMappingInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception ex)
        {
            throw Translate(ex, context);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context);
        }
        catch (Exception ex)
        {
            throw Translate(ex, context);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception ex)
        {
            throw Translate(ex, context);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context);
        }
        catch (Exception ex)
        {
            throw Translate(ex, context);
        }
    }

    private RpcException Translate(Exception exception, ServerCallContext context)
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
