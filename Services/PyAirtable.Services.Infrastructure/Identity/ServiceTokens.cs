using PyAirtable.Contracts.Common;

namespace PyAirtable.Services.Infrastructure.Identity;

/// <summary>
/// Mints the credentials with which one of the platform's services calls another as itself (not as the
/// user it is serving), e.g. the Workspace service checking that a user id exists. Provided by the Auth
/// service on the hosts where it runs (it holds the signing keys); absent elsewhere.
/// </summary>
public interface IServiceTokenIssuer
{
    /// <summary>An <c>authorization</c> header value (<c>Bearer …</c>) for <paramref name="service"/> holding <paramref name="scopes"/>.</summary>
    Task<string> AuthorizationAsync(string service, IReadOnlyList<string> scopes, CancellationToken cancellationToken);
}

/// <summary>The caller a service token describes, for in-process calls (see <see cref="CallerImpersonation"/>).</summary>
public static class ServicePrincipal
{
    public static UserContext Of(string service, IReadOnlyList<string> scopes) => new()
    {
        UserId = "service:" + service,
        Roles = [PlatformRoles.Service],
        Scopes = [.. scopes],
        AuthMethod = AuthMethod.Service,
    };
}
