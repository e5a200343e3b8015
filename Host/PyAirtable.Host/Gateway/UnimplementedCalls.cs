using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;

namespace PyAirtable.Host.Gateway;

/// <summary>
/// Answers a gRPC call that no endpoint serves (an unknown service or method, or a contract served by another host) with
/// UNIMPLEMENTED, before authentication, as gRPC specifies. grpc-dotnet would map catch-all routes for this
/// (<c>{service}/{method}</c> and <c>Package.Service/{method}</c> for each service); those are off
/// (<c>IgnoreUnknownServices</c>, PlatformHost) because each sits in the route match of every call to its service, where
/// the matcher captures the method name into a route value dictionary on every call, served or not.
/// </summary>
internal sealed class UnimplementedCalls(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context) =>
        context.GetEndpoint() is null && RequestContextMiddleware.IsGrpc(context.Request)
            ? TrailersOnlyResponse.WriteAsync(context, new PlatformException(ErrorCode.Unimplemented,
                $"This server does not serve {Describe(context.Request.Path.Value)}."))
            : next(context);

    /// <summary>The method as the caller named it, if it looks like one (echoed in the message), else "this method".</summary>
    private static string Describe(string? path) =>
        path is { Length: > 1 and <= 200 } && path.AsSpan(1).IndexOfAnyExcept(MethodChars) < 0 ? path[1..] : "this method";

    private static readonly System.Buffers.SearchValues<char> MethodChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/");
}
