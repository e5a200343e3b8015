using Grpc.Core;
using Microsoft.AspNetCore.Http;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Requests;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Notifications;

/// <summary>
/// The context for a call this service makes as itself from outside any served call (the feed dispatch loop, which
/// checks many users at once — something only the platform's services may ask). With a token issuer (the contract is
/// on another host) it is a client context carrying a service token, which that host's gateway authenticates; without
/// one (the contract is in this process) it is a server context whose caller is the service principal, exactly what the
/// in-process implementation would have seen had the token come through a gateway.
/// </summary>
internal static class ServiceCalls
{
    public static async ValueTask<CallContext> ContextAsync(IServiceTokenIssuer? issuer, string service, IReadOnlyList<string> scopes, CancellationToken ct)
    {
        if (issuer is not null)
        {
            var authorization = await issuer.AuthorizationAsync(service, scopes, ct);
            return new CallContext(new CallOptions(new Metadata { { "authorization", authorization } }, cancellationToken: ct));
        }

        var http = new DefaultHttpContext();
        http.Features.Set<IRequestMetadataFeature>(new RequestMetadataFeature(new RequestMetadata
        {
            RequestId = Guid.NewGuid().ToString("N"), UserContext = ServicePrincipal.Of(service, scopes), Timestamp = DateTime.UtcNow,
        }));
        return new CallContext(service, new InProcessCall(http, ct));
    }

    /// <summary>The server side of a call that never crossed a wire; <c>GetHttpContext()</c> finds its HttpContext in UserState.</summary>
    private sealed class InProcessCall(HttpContext http, CancellationToken ct) : ServerCallContext
    {
        private readonly Dictionary<object, object> _userState = new() { ["__HttpContext"] = http };

        protected override string MethodCore => "";
        protected override string HostCore => "localhost";
        protected override string PeerCore => "in-process";
        protected override DateTime DeadlineCore => DateTime.MaxValue;
        protected override Metadata RequestHeadersCore => [];
        protected override CancellationToken CancellationTokenCore => ct;
        protected override Metadata ResponseTrailersCore => [];
        protected override Status StatusCore { get; set; }
        protected override WriteOptions? WriteOptionsCore { get; set; }
        protected override AuthContext AuthContextCore => new(null, []);
        protected override IDictionary<object, object> UserStateCore => _userState;

        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }
}
