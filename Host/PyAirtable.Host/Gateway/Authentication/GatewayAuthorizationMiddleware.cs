using System.Collections.Concurrent;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;

namespace PyAirtable.Host.Gateway.Authentication;

/// <summary>
/// ASP.NET Core's authorization middleware, with two shortcuts, each taken exactly when the middleware would let the call through:
/// <list type="bullet">
/// <item>a call to a public endpoint (<c>[AllowAnonymous]</c>) whose policy names no authentication scheme, for which the
/// middleware would only build an authentication result and go on;</item>
/// <item>a call made with a credential this host has verified before (its principal wraps a <see cref="ReadOnlyClaimsIdentity"/>)
/// to an endpoint whose policy asks only for an authenticated caller and scopes, all of which the credential holds.</item>
/// </list>
/// The middleware's per-call cost is a request scope, an authentication result and ticket, two dictionaries, an authorization
/// context, a requirement set and the handlers' enumerators: most of a cached read's authorization work.
/// <para>
/// Everything else takes the middleware: anonymous calls to protected endpoints, calls with a credential verified just now, and
/// every call the shortcut would refuse, so refusals stay the middleware's (and <see cref="GrpcAuthorizationResultHandler"/>'s).
/// A protected endpoint's policy is the one the middleware combined for it, learnt from its first authorized call; the shortcuts
/// are off when an authorization handler other than the platform's is registered, since they could not know what it decides.
/// </para>
/// </summary>
internal static class GatewayAuthorizationMiddleware
{
    /// <summary>The key WebApplication looks for (Microsoft.AspNetCore.Builder.WebApplicationBuilder); every test's call proves it.</summary>
    private const string AuthorizationMiddlewareSetKey = "__AuthorizationMiddlewareSet";

    public static IApplicationBuilder UseGatewayAuthorization(this IApplicationBuilder app)
    {
        var services = app.ApplicationServices;
        var policies = services.GetRequiredService<EndpointPolicies>();
        var standard = app.New();
        standard.UseAuthorization();
        // As with authentication (GatewayAuthenticationMiddleware): WebApplication adds its own UseAuthorization ahead of this
        // pipeline, before anyone is authenticated, unless the app's own properties say it is in place.
        app.Properties[AuthorizationMiddlewareSetKey] = true;
        if (!services.GetServices<IAuthorizationHandler>().All(h => h is PassThroughAuthorizationHandler or ScopeHandler))
        {
            return app.UseAuthorization();
        }

        return app.Use(next =>
        {
            standard.Run(next);
            var authorize = standard.Build();
            return context =>
            {
                if (context.GetEndpoint() is not { } endpoint)
                {
                    return authorize(context);
                }

                if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
                {
                    // A public endpoint (health, reflection, Register…): the middleware would only authenticate again with
                    // the schemes its policy names, and go on whatever the outcome. None named: nothing for it to do.
                    return policies.IsOpen(endpoint) switch
                    {
                        true => Authorized(context, next),
                        false => authorize(context),
                        null => LearnThenAuthorizeAsync(context, endpoint, policies, authorize),
                    };
                }

                return GatewayAuthentication.AuthenticatedUser(context) is { } user && ReadOnlyClaimsIdentity.CallerOf(user) is { } caller
                    && policies.Find(endpoint) is { } scopes
                    && HoldsAll(caller, scopes)
                        ? Authorized(context, next)
                        : authorize(context);
            };
        });
    }

    // The endpoint middleware's check that authorization ran (an item the authorization middleware sets) is off
    // (RouteOptions.SuppressCheckForUnhandledSecurityMetadata, PlatformHost): setting the item here would create every call's
    // item dictionary. This middleware is always in the pipeline; every test of a refused call proves it runs.
    private static Task Authorized(HttpContext context, RequestDelegate next) => next(context);

    private static async Task LearnThenAuthorizeAsync(HttpContext context, Endpoint endpoint, EndpointPolicies policies, RequestDelegate authorize)
    {
        await policies.LearnOpenAsync(endpoint);
        await authorize(context);
    }

    private static bool HoldsAll(VerifiedCaller caller, string[] scopes)
    {
        foreach (var scope in scopes)
        {
            if (!caller.Holds(scope))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>
/// What <see cref="GatewayAuthorizationMiddleware"/> may decide itself, per endpoint: for a protected endpoint, the scopes its
/// policy asks for when that policy asks only for an authenticated caller and scopes, learnt from the policy the authorization
/// middleware combined for it; for a public one, whether its policy names no scheme. Endpoints are a fixed set: bounded.
/// </summary>
internal sealed class EndpointPolicies(IAuthorizationPolicyProvider provider)
{
    private readonly ConcurrentDictionary<Endpoint, string[]?> _scopes = new();
    private readonly ConcurrentDictionary<Endpoint, bool> _open = new();

    /// <summary>
    /// Whether a public (<c>[AllowAnonymous]</c>) endpoint's policy names no authentication scheme, so that the authorization
    /// middleware would do nothing for its calls; null until learnt (<see cref="LearnOpenAsync"/>).
    /// </summary>
    public bool? IsOpen(Endpoint endpoint) => _open.TryGetValue(endpoint, out var open) ? open : null;

    /// <summary>Combines the endpoint's policy as the authorization middleware does, and keeps whether it names a scheme.</summary>
    public async Task LearnOpenAsync(Endpoint endpoint)
    {
        var policy = await AuthorizationPolicy.CombineAsync(provider, endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>(),
            endpoint.Metadata.GetOrderedMetadata<AuthorizationPolicy>());
        _open.TryAdd(endpoint, policy is null || policy.AuthenticationSchemes.Count == 0);
    }

    /// <summary>The scopes the endpoint's policy asks for; null when the policy is not known yet or asks for more.</summary>
    public string[]? Find(Endpoint endpoint) => _scopes.GetValueOrDefault(endpoint);

    /// <summary>Keeps what <paramref name="policy"/> asks of callers of <paramref name="endpoint"/>.</summary>
    public void Learn(Endpoint endpoint, AuthorizationPolicy policy)
    {
        if (!_scopes.ContainsKey(endpoint))
        {
            _scopes.TryAdd(endpoint, SimpleScopes(endpoint, policy));
        }
    }

    /// <summary>The scopes of a policy made only of "authenticated" and scope requirements, naming no scheme; else null.</summary>
    internal static string[]? SimpleScopes(Endpoint endpoint, AuthorizationPolicy policy)
    {
        if (policy.AuthenticationSchemes.Count > 0 || endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
        {
            return null;
        }

        var scopes = new List<string>();
        var authenticated = false;
        foreach (var requirement in policy.Requirements)
        {
            switch (requirement)
            {
                case DenyAnonymousAuthorizationRequirement:
                    authenticated = true;
                    break;
                case ScopeRequirement scope:
                    scopes.Add(scope.Scope);
                    break;
                default:
                    return null;
            }
        }

        // A policy without the "authenticated" requirement lets anonymous callers through: not the shortcut's to decide.
        return authenticated ? [.. scopes] : null;
    }
}
