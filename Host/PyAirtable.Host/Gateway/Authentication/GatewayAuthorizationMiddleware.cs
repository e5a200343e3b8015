using System.Collections.Concurrent;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;

namespace PyAirtable.Host.Gateway.Authentication;

/// <summary>
/// ASP.NET Core's authorization middleware, with one shortcut: a call made with a credential this host has verified before
/// (its principal wraps a <see cref="ReadOnlyClaimsIdentity"/>), to an endpoint whose policy asks only for an authenticated
/// caller and scopes, and whose scopes the credential holds, goes straight on. That is exactly when the middleware would let
/// it through; its per-call cost is an authentication result, a ticket, two dictionaries, an authorization context, a
/// requirement set and the handlers' enumerators, most of an authenticated call's authorization work.
/// <para>
/// Everything else takes the middleware: anonymous and public calls, calls with a credential verified just now, and every
/// call the shortcut would refuse, so refusals stay the middleware's (and <see cref="GrpcAuthorizationResultHandler"/>'s).
/// An endpoint's policy is the one the middleware combined for it, learnt from its first authorized call; the shortcut is off
/// when an authorization handler other than the platform's is registered, since it could not know what that handler decides.
/// </para>
/// </summary>
internal static class GatewayAuthorizationMiddleware
{
    /// <summary>The item the endpoint middleware looks for to know authorization ran (Microsoft.AspNetCore.Authorization).</summary>
    private const string AuthorizationInvokedKey = "__AuthorizationMiddlewareWithEndpointInvoked";
    private static readonly object AuthorizationInvoked = new();

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
                if (ReadOnlyClaimsIdentity.CallerOf(context.User) is { } caller && context.GetEndpoint() is { } endpoint
                    && policies.Find(endpoint) is { } scopes && HoldsAll(caller, scopes))
                {
                    context.Items[AuthorizationInvokedKey] = AuthorizationInvoked;
                    return next(context);
                }

                return authorize(context);
            };
        });
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
/// Per endpoint, the scopes its policy asks for when that policy asks only for an authenticated caller and scopes (what
/// <see cref="GatewayAuthorizationMiddleware"/> may decide itself), learnt from the policy the authorization middleware
/// combined for the endpoint. Endpoints are a fixed set, so this is bounded.
/// </summary>
internal sealed class EndpointPolicies
{
    private readonly ConcurrentDictionary<Endpoint, string[]?> _scopes = new();

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
