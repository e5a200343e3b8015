using Grpc.Core;
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

        return InProcessServerCall.AsService(service, scopes, ct);
    }
}
