using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Requests;

namespace PyAirtable.Services.Infrastructure.Identity;

/// <summary>Claim names of platform access tokens (registered JWT names where one exists).</summary>
public static class PlatformClaims
{
    public const string Subject = "sub";
    public const string Email = "email";
    public const string Role = "role";
    /// <summary>Scopes the credential is limited to (space separated in a JWT); absent means unrestricted.</summary>
    public const string Scope = "scope";
    /// <summary>The session (refresh-token family) an access token belongs to.</summary>
    public const string SessionId = "sid";
    /// <summary>The id of the API key that authenticated the call.</summary>
    public const string ApiKeyId = "api_key_id";
    /// <summary>How the caller authenticated: <c>jwt</c>, <c>api_key</c> or <c>service</c>.</summary>
    public const string AuthMethod = "auth_method";
    /// <summary>The OIDC claim: the user proved they receive mail at <see cref="Email"/> (JSON true/false).</summary>
    public const string EmailVerified = "email_verified";

    /// <summary>The scopes among <paramref name="claims"/> (a JWT carries them space separated in one claim).</summary>
    public static List<string> ScopesOf(IEnumerable<Claim> claims) =>
        claims.Where(c => c.Type == Scope)
            .SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct(StringComparer.Ordinal)
            .ToList();

    /// <summary>The <see cref="UserContext"/> that the claims of a validated credential describe.</summary>
    public static UserContext ToUserContext(IEnumerable<Claim> claims)
    {
        ArgumentNullException.ThrowIfNull(claims);
        var all = claims as IReadOnlyCollection<Claim> ?? claims.ToList();
        string? First(string type) => all.FirstOrDefault(c => c.Type == type)?.Value;
        var method = First(AuthMethod) switch
        {
            "api_key" => PyAirtable.Contracts.Common.AuthMethod.ApiKey,
            "service" => PyAirtable.Contracts.Common.AuthMethod.Service,
            _ => PyAirtable.Contracts.Common.AuthMethod.Jwt,
        };
        return new UserContext
        {
            UserId = First(Subject) ?? "",
            Email = First(Email) ?? "",
            Roles = all.Where(c => c.Type == Role).Select(c => c.Value).ToList(),
            Scopes = ScopesOf(all),
            AuthMethod = method,
            CredentialId = First(method == PyAirtable.Contracts.Common.AuthMethod.ApiKey ? ApiKeyId : SessionId) ?? "",
            EmailVerified = string.Equals(First(EmailVerified), "true", StringComparison.OrdinalIgnoreCase),
        };
    }
}

/// <summary>Platform-wide roles.</summary>
public static class PlatformRoles
{
    /// <summary>Operators: read and manage every user.</summary>
    public const string Admin = "admin";

    /// <summary>The platform's own services calling each other (service tokens minted by the Auth service).</summary>
    public const string Service = "platform-service";
}

/// <summary>How service code learns who is calling and checks what they may do.</summary>
public static class CallerExtensions
{
    private static readonly UserContext Anonymous = new();

    /// <summary>The caller established by the gateway layer (anonymous when the RPC is public and no credentials came).</summary>
    public static UserContext GetCaller(this CallContext context) =>
        context.ServerCallContext is null ? Anonymous : context.GetCallerContext() ?? Anonymous;

    private const string CredentialsNeeded =
        "This call needs credentials: an access token (authorization: Bearer …) or an API key (x-api-key).";

    /// <summary>The caller, or UNAUTHENTICATED when the call carries no identity.</summary>
    /// <remarks>
    /// Scopes are not checked here: an RPC declares them once, with <see cref="RequiresScopeAttribute"/> on its
    /// implementing method, and they are enforced before its body runs, by the gateway for calls from outside and by
    /// the in-process binding for calls from other services in this process.
    /// </remarks>
    public static UserContext RequireCaller(this CallContext context)
    {
        var caller = context.GetCaller();
        if (!caller.IsAuthenticated)
        {
            Fail.Unauthenticated(CredentialsNeeded);
        }

        return caller;
    }

    /// <summary>
    /// The caller, who must be a user — not one of the platform's services (<paramref name="refusal"/> says why as
    /// PERMISSION_DENIED).
    /// </summary>
    public static UserContext RequireUser(this CallContext context, string refusal)
    {
        var caller = context.RequireCaller();
        if (caller.AuthMethod == PyAirtable.Contracts.Common.AuthMethod.Service || !Guid.TryParse(caller.UserId, out _))
        {
            Fail.PermissionDenied(refusal);
        }

        return caller;
    }

    /// <summary>
    /// The caller, who must be a user in person: an access token of a session, not an API key or a service
    /// (account-level actions such as verifying the e-mail address). PERMISSION_DENIED says why.
    /// </summary>
    public static UserContext RequireSession(this CallContext context, string action)
    {
        var caller = context.RequireCaller();
        if (caller.AuthMethod != PyAirtable.Contracts.Common.AuthMethod.Jwt || !Guid.TryParse(caller.UserId, out _))
        {
            Fail.PermissionDenied($"{action} needs a user session (an access token from Login), not an API key.");
        }

        return caller;
    }

    public static bool HasRole(this UserContext caller, string role) =>
        caller.Roles.Contains(role, StringComparer.Ordinal);

    /// <summary>
    /// Why a call that needs <paramref name="scopes"/> may not go on, or null when it may: UNAUTHENTICATED without
    /// credentials, PERMISSION_DENIED (ErrorInfo <c>required_scope</c>) for the first scope the credentials lack.
    /// </summary>
    public static PlatformException? ScopeRefusal(this CallContext context, IReadOnlyList<string> scopes)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        var caller = context.GetCaller();
        if (!caller.IsAuthenticated)
        {
            return new PlatformException(PyAirtable.Contracts.Common.ErrorCode.Unauthenticated, CredentialsNeeded);
        }

        foreach (var scope in scopes)
        {
            if (!caller.HasScope(scope))
            {
                return MissingScope(scope);
            }
        }

        return null;
    }

    /// <summary>The refusal for credentials without <paramref name="scope"/>, the same from the gateway and in process.</summary>
    public static PlatformException MissingScope(string scope) =>
        new(PyAirtable.Contracts.Common.ErrorCode.PermissionDenied, $"The credentials lack the scope '{scope}' this call needs.",
            new Dictionary<string, string> { ["required_scope"] = scope });

    /// <summary>True when the credentials are not limited by scope, or hold <paramref name="scope"/>.</summary>
    public static bool HasScope(this UserContext caller, string scope) =>
        caller.Scopes.Count == 0 || caller.Scopes.Contains(scope, StringComparer.Ordinal);

    /// <summary>Operators and the platform's own services may act on any user.</summary>
    public static bool IsPrivileged(this UserContext caller) =>
        caller.HasRole(PlatformRoles.Admin) || caller.HasRole(PlatformRoles.Service);
}

/// <summary>
/// Requires the credentials of a call to hold a scope (API keys hold scopes; user access tokens are not
/// limited). Put it on the method of a service implementation: it is the RPC's one declaration of the scope.
/// The gateway's authorization reads it from the endpoint for calls from outside; the in-process binding of the
/// contract (<c>ScopeCheckingProxy</c>) reads it for calls from other services in this process. Either answers
/// PERMISSION_DENIED with ErrorInfo <c>required_scope</c> before the method runs.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class, AllowMultiple = true)]
public sealed class RequiresScopeAttribute(string scope) : Attribute, IAuthorizeData
{
    public const string PolicyPrefix = "scope:";

    public string Scope { get; } = scope;

    public string? Policy { get => PolicyPrefix + Scope; set => throw new NotSupportedException(); }

    public string? Roles { get => null; set => throw new NotSupportedException(); }

    public string? AuthenticationSchemes { get => null; set => throw new NotSupportedException(); }
}

/// <summary>The credentials a call arrived with, carried to the calls it makes to other hosts.</summary>
public interface ICallerCredentialsFeature
{
    /// <summary>The <c>authorization</c> header value to send on, or null.</summary>
    string? Authorization { get; set; }

    /// <summary>The <c>x-api-key</c> header value to send on, or null.</summary>
    string? ApiKey { get; set; }
}

/// <inheritdoc />
public sealed class CallerCredentialsFeature : ICallerCredentialsFeature
{
    public string? Authorization { get; set; }

    public string? ApiKey { get; set; }
}

/// <summary>
/// Lets a service call another service as a different principal (the Auth service registering an
/// account calls the User service as itself, not as the anonymous caller). In process the callee
/// reads the swapped <see cref="UserContext"/>; on a remote host the swapped credentials are what its
/// gateway authenticates, so both paths see the same identity.
/// </summary>
public static class CallerImpersonation
{
    public static IDisposable ActAs(HttpContext httpContext, UserContext caller, string authorization)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var metadataFeature = httpContext.Features.Get<IRequestMetadataFeature>()
            ?? throw new InvalidOperationException("The gateway pipeline did not run for this request.");
        var credentials = httpContext.Features.Get<ICallerCredentialsFeature>();
        if (credentials is null)
        {
            credentials = new CallerCredentialsFeature();
            httpContext.Features.Set(credentials);
        }

        var saved = (metadataFeature.Metadata, credentials.Authorization, credentials.ApiKey);
        metadataFeature.Metadata = metadataFeature.Metadata with { UserContext = caller };
        credentials.Authorization = authorization;
        credentials.ApiKey = null;
        return new Restore(() =>
        {
            metadataFeature.Metadata = saved.Metadata;
            credentials.Authorization = saved.Authorization;
            credentials.ApiKey = saved.ApiKey;
        });
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        private Action? _restore = restore;

        public void Dispose() => Interlocked.Exchange(ref _restore, null)?.Invoke();
    }
}
