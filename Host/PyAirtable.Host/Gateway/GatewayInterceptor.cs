using Grpc.Core;
using Grpc.Core.Interceptors;
using PyAirtable.Host.Gateway.RateLimiting;
using PyAirtable.Host.Telemetry;

namespace PyAirtable.Host.Gateway;

/// <summary>
/// The gateway's work inside every gRPC call, in this order:
/// <list type="number">
/// <item>failures become gRPC statuses (<see cref="ErrorMapping"/>): outermost, so a refusal below is mapped like any error;</item>
/// <item>the request's workspace is noted for the call's analytics record (<see cref="CallWorkspaceNotes"/>), before a refusal
/// can end the call;</item>
/// <item>the call's rate-limit permits are taken (<see cref="RateLimitChecks"/>): after authentication, with the decoded request.</item>
/// </list>
/// One interceptor, not one per step: grpc-dotnet wraps every interceptor in an async step of its own, a task on every call
/// for each. A unary call whose permits and service answer at once (a leased permit, a cached read) costs no task here either.
/// </summary>
internal sealed class GatewayInterceptor(ErrorMapping errors, CallWorkspaceNotes workspaces, RateLimitChecks rateLimits) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Task<TResponse> response;
        try
        {
            workspaces.Note(request, context);
            var check = rateLimits.CheckAsync(request, context);
            if (!check.IsCompletedSuccessfully)
            {
                return CheckedUnaryAsync(check, request, context, continuation);
            }

            check.GetAwaiter().GetResult();
            response = continuation(request, context);
        }
        catch (Exception ex)
        {
            return Task.FromException<TResponse>(errors.Translate(ex, context));
        }

        return response.IsCompletedSuccessfully ? response : MappedAsync(response, context);
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await rateLimits.CheckAsync<object>(null, context);
            return await continuation(requestStream, context);
        }
        catch (Exception ex)
        {
            throw errors.Translate(ex, context);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            workspaces.Note(request, context);
            await rateLimits.CheckAsync(request, context);
            await continuation(request, responseStream, context);
        }
        catch (Exception ex)
        {
            throw errors.Translate(ex, context);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await rateLimits.CheckAsync<object>(null, context);
            await continuation(requestStream, responseStream, context);
        }
        catch (Exception ex)
        {
            throw errors.Translate(ex, context);
        }
    }

    /// <summary>The unary call once its permits took a round trip (or were refused).</summary>
    private async Task<TResponse> CheckedUnaryAsync<TRequest, TResponse>(
        ValueTask check, TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        where TRequest : class
        where TResponse : class
    {
        try
        {
            await check;
            return await continuation(request, context);
        }
        catch (Exception ex)
        {
            throw errors.Translate(ex, context);
        }
    }

    /// <summary>A unary response still on its way: its failure, if any, is mapped when it comes.</summary>
    private async Task<TResponse> MappedAsync<TResponse>(Task<TResponse> response, ServerCallContext context)
    {
        try
        {
            return await response;
        }
        catch (Exception ex)
        {
            throw errors.Translate(ex, context);
        }
    }
}
