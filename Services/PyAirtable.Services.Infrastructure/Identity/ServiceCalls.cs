using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ProtoBuf.Grpc;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.Security;

namespace PyAirtable.Services.Infrastructure.Identity;

/// <summary>
/// Whether a call comes from one of the platform's services (acting for a user) rather than from the user directly:
/// for operations meant only for services, such as registering a workspace in the resource tree, which only the
/// Workspaces service may do when it creates one.
/// </summary>
public static class ServiceCalls
{
    /// <summary>
    /// Set by a host on its calls to other hosts: the area of the service whose RPC it is serving (the caller). The
    /// receiving host believes it only from a peer whose platform certificate names that service.
    /// </summary>
    public const string CallerServiceHeader = "x-pyairtable-caller-service";

    /// <summary>
    /// The area of the platform service calling <paramref name="ownService"/>, or null when the caller is a user (or an
    /// edge forwarding a user's call):
    /// <list type="bullet">
    /// <item>in process: the call being served is another service's RPC, which called this one through its binding;</item>
    /// <item>from another host: the connection's client certificate is the platform's, and names the service the
    /// <see cref="CallerServiceHeader"/> claims (a gateway's certificate names none; a forwarded call claims the callee).</item>
    /// </list>
    /// </summary>
    public static string? CallingService(this CallContext context, string ownService)
    {
        ArgumentException.ThrowIfNullOrEmpty(ownService);
        var server = context.ServerCallContext;
        if (server is null)
        {
            return null; // not inside a served call: nothing says who calls, so nobody is trusted
        }

        var ownArea = Topology.AreaOf(ownService);
        var servedService = ServiceOfMethod(server.Method);
        if (!string.Equals(servedService, ownService, StringComparison.Ordinal))
        {
            return Topology.AreaOf(servedService);
        }

        var http = server.GetHttpContext();
        var claimed = http.Request.Headers[CallerServiceHeader].ToString();
        var certificate = http.Connection.ClientCertificate;
        if (claimed.Length == 0 || string.Equals(claimed, ownArea, StringComparison.Ordinal) || certificate is null
            || http.RequestServices.GetService<PlatformTls>() is not { } tls || !tls.IsPlatformCertificate(certificate))
        {
            return null;
        }

        return PeerIdentity.Of(certificate).Services.Contains(claimed) ? claimed : null;
    }

    /// <summary>The full service name of a gRPC method path (<c>/pyairtable.users.v1.UserService/GetUser</c>).</summary>
    public static string ServiceOfMethod(string method)
    {
        ArgumentNullException.ThrowIfNull(method);
        var trimmed = method.TrimStart('/');
        var slash = trimmed.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? trimmed : trimmed[..slash];
    }
}
