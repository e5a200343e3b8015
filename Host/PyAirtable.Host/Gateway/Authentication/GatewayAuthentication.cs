using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Requests;
using PyAirtable.Services.Infrastructure.SharedState;

namespace PyAirtable.Host.Gateway.Authentication;

/// <summary>
/// Authentication and authorization of the gateway layer, built on ASP.NET Core's: bearer JWTs
/// (JwtBearer, RS256 only, keys from the Auth service's JWKS) and API keys (<c>x-api-key</c>). Every
/// endpoint needs an authenticated caller unless it is marked <c>[AllowAnonymous]</c>; API keys must
/// also hold the scope an RPC names with <c>[RequiresScope]</c>. Refusals are gRPC statuses with an
/// ErrorInfo, not HTTP 401/403.
/// </summary>
internal static class GatewayAuthentication
{
    public const string PlatformScheme = "Platform";

    public static IServiceCollection AddGatewayAuthentication(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TokenOptions>().Bind(configuration.GetSection(TokenOptions.Section));
        services.AddSingleton<SigningKeyCache>();
        services.AddSingleton<ValidatedTokenCache>();
        services.AddSingleton<VerifiedApiKeyCache>();

        services.AddAuthentication(PlatformScheme)
            .AddPolicyScheme(PlatformScheme, "Bearer token or API key", o =>
                o.ForwardDefaultSelector = context => context.Request.Headers.ContainsKey(ApiKeyAuthenticationHandler.HeaderName)
                    ? ApiKeyAuthenticationHandler.SchemeName
                    : JwtBearerDefaults.AuthenticationScheme)
            .AddJwtBearer()
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);

        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<TokenOptions>, SigningKeyCache>((o, tokens, keys) =>
            {
                var t = tokens.Value;
                o.MapInboundClaims = false;
                o.RequireHttpsMetadata = false; // no metadata address: keys come from the JWKS through the contract
                o.IncludeErrorDetails = false;
                o.TokenValidationParameters = t.CreateValidationParameters(keys.Find);
                o.Events = new JwtBearerEvents
                {
                    OnMessageReceived = async context =>
                    {
                        // A token verified before on this host never gets here (GatewayAuthenticationMiddleware answers it).
                        var authorization = context.Request.Headers.Authorization;
                        if (authorization.Count > 1)
                        {
                            // Two authorization lines: which one the client meant is unknowable, so neither is used. (Their joined
                            // value is never a valid token, but one line of another scheme would read as no credentials at all.)
                            context.HttpContext.Items[AuthFailure.ItemKey] = AuthFailure.InvalidToken;
                            context.Fail(AuthFailure.InvalidToken);
                            return;
                        }

                        if (GatewayAuthenticationMiddleware.BearerToken(authorization.ToString()) is not { } token)
                        {
                            return;
                        }

                        context.Token = token;
                        await keys.EnsureAsync(SigningKeyCache.ReadKid(token), context.HttpContext.RequestAborted);
                    },
                    OnTokenValidated = async context =>
                    {
                        var principal = context.Principal!;
                        var sid = principal.FindFirstValue(PlatformClaims.SessionId) ?? "";
                        var sub = principal.FindFirstValue(PlatformClaims.Subject) ?? "";
                        if (await IsRevokedAsync(context.HttpContext, RevocationList.Session(sid), sub))
                        {
                            context.Fail(context.HttpContext.Items[AuthFailure.ItemKey] as string ?? AuthFailure.Revoked);
                            return;
                        }

                        if (context.SecurityToken is Microsoft.IdentityModel.JsonWebTokens.JsonWebToken jwt)
                        {
                            context.HttpContext.RequestServices.GetRequiredService<ValidatedTokenCache>().Add(jwt.EncodedToken, principal, jwt.ValidTo);
                        }
                    },
                    OnAuthenticationFailed = context =>
                    {
                        context.HttpContext.Items.TryAdd(AuthFailure.ItemKey,
                            context.Exception is SecurityTokenExpiredException ? AuthFailure.Expired : AuthFailure.InvalidToken);
                        return Task.CompletedTask;
                    },
                };
            });

        services.AddAuthorization(o =>
        {
            // No scheme named in the policies: the authentication middleware has already authenticated the call with the default
            // (Platform) scheme, and a policy naming it would make the authorization middleware authenticate every call again and
            // merge the result into a new principal, anonymous health checks included.
            o.FallbackPolicy = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();
            o.DefaultPolicy = o.FallbackPolicy;
        });
        services.AddSingleton<IAuthorizationPolicyProvider, ScopePolicyProvider>();
        services.AddSingleton<IAuthorizationHandler, ScopeHandler>();
        services.AddSingleton<EndpointPolicies>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, GrpcAuthorizationResultHandler>();
        return services;
    }

    /// <summary>
    /// The call's authenticated principal, or null. Read from the feature: <see cref="HttpContext.User"/> makes up an empty
    /// principal (three objects and two lists) for every anonymous call that reads it.
    /// </summary>
    internal static ClaimsPrincipal? AuthenticatedUser(HttpContext context) =>
        context.Features.Get<Microsoft.AspNetCore.Http.Features.Authentication.IHttpAuthenticationFeature>()?.User is
            { Identity.IsAuthenticated: true } user
            ? user
            : null;

    /// <summary>
    /// True (with the cause in the request's items) when the session or user is revoked, or when neither
    /// Redis nor PostgreSQL can answer: fail closed, since a revoked token could otherwise pass.
    /// </summary>
    internal static async Task<bool> IsRevokedAsync(HttpContext http, string credentialKey, string subject)
    {
        try
        {
            var revocations = http.RequestServices.GetRequiredService<RevocationList>();
            if (subject.Length == 0 || await revocations.IsRevokedAsync(credentialKey, subject, http.RequestAborted))
            {
                http.Items[AuthFailure.ItemKey] = AuthFailure.Revoked;
                return true;
            }

            return false;
        }
        catch (Exception ex) when (AuthFailure.IsUnavailable(ex, http.RequestAborted))
        {
            AuthFailure.Unavailable(http, ex);
            return true;
        }
    }
}

/// <summary>
/// After authentication: puts the caller into the request's <see cref="RequestMetadata"/> for service
/// code, and keeps the credentials so calls to contracts on other hosts carry them.
/// </summary>
internal sealed class CallerContextMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (GatewayAuthentication.AuthenticatedUser(context) is { } user)
        {
            var headers = context.Request.Headers;
            var hasApiKey = headers.TryGetValue(ApiKeyAuthenticationHandler.HeaderName, out var apiKey);
            ICallerCredentialsFeature credentials;
            if (context.Features.Get<IRequestMetadataFeature>() is GatewayRequestMetadata gateway)
            {
                // A cached credential's caller was derived once; any other principal's is derived from its claims now.
                gateway.SetCaller(ReadOnlyClaimsIdentity.CallerOf(user)?.UserContext ?? PlatformClaims.ToUserContext(user.Claims));
                credentials = gateway;
            }
            else
            {
                credentials = new CallerCredentialsFeature(); // RequestContextMiddleware did not run: there is no metadata to fill
            }

            credentials.Authorization = hasApiKey ? null : headers.Authorization.ToString();
            credentials.ApiKey = hasApiKey ? apiKey.ToString() : null;
            context.Features.Set(credentials);
        }

        return next(context);
    }
}

/// <summary>A scope requirement: unrestricted credentials (user tokens) pass, scoped ones must hold it.</summary>
internal sealed record ScopeRequirement(string Scope) : IAuthorizationRequirement;

internal sealed class ScopeHandler : AuthorizationHandler<ScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        if (context.User.Identity?.IsAuthenticated == true && Holds(context.User, requirement.Scope))
        {
            context.Succeed(requirement);
        }
        else
        {
            context.Fail(new AuthorizationFailureReason(this, requirement.Scope));
        }

        return Task.CompletedTask;
    }

    private static bool Holds(ClaimsPrincipal user, string scope)
    {
        if (ReadOnlyClaimsIdentity.CallerOf(user) is { } caller)
        {
            return caller.Holds(scope);
        }

        var scopes = PlatformClaims.ScopesOf(user.Claims);
        return scopes.Count == 0 || scopes.Contains(scope, StringComparer.Ordinal);
    }
}

/// <summary>
/// Builds <c>scope:&lt;name&gt;</c> policies on demand (see <see cref="RequiresScopeAttribute"/>), once per name. A policy is a
/// pure function of its name, so the authorization middleware may keep each endpoint's combined policy: a provider derived
/// from the default one is otherwise asked again, and the policies combined again, on every call.
/// </summary>
internal sealed class ScopePolicyProvider(IOptions<AuthorizationOptions> options) : DefaultAuthorizationPolicyProvider(options)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task<AuthorizationPolicy?>> _scoped = new(StringComparer.Ordinal);

    public override bool AllowsCachingPolicies => true;

    public override Task<AuthorizationPolicy?> GetPolicyAsync(string policyName) =>
        policyName.StartsWith(RequiresScopeAttribute.PolicyPrefix, StringComparison.Ordinal)
            ? _scoped.GetOrAdd(policyName, name => Task.FromResult<AuthorizationPolicy?>(
                new AuthorizationPolicyBuilder()
                    .RequireAuthenticatedUser()
                    .AddRequirements(new ScopeRequirement(name[RequiresScopeAttribute.PolicyPrefix.Length..]))
                    .Build()))
            : base.GetPolicyAsync(policyName);
}

/// <summary>
/// Answers refused gRPC calls the gRPC way: a trailers-only response with UNAUTHENTICATED or
/// PERMISSION_DENIED and a google.rpc.Status (ErrorInfo with reason, cause, request id) instead of
/// HTTP 401/403, which gRPC clients would only see as a transport failure.
/// </summary>
internal sealed class GrpcAuthorizationResultHandler(EndpointPolicies policies) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (context.GetEndpoint() is { } endpoint)
        {
            policies.Learn(endpoint, policy); // the endpoint's combined policy, for GatewayAuthorizationMiddleware's shortcut
        }

        var isGrpc = context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;
        if (!isGrpc || authorizeResult.Succeeded)
        {
            return _default.HandleAsync(next, context, policy, authorizeResult);
        }

        PlatformException error;
        if (authorizeResult.Challenged || context.User.Identity?.IsAuthenticated != true)
        {
            var cause = context.Items[AuthFailure.ItemKey] as string ?? AuthFailure.MissingCredentials;
            if (cause == AuthFailure.UnavailableCause)
            {
                return TrailersOnlyResponse.WriteAsync(context, new PlatformException(ErrorCode.Unavailable, "Credentials cannot be checked right now; retry shortly.")
                {
                    RetryAfter = TimeSpan.FromSeconds(1),
                });
            }

            var message = cause switch
            {
                AuthFailure.MissingCredentials => "This call needs credentials: an access token (authorization: Bearer …) or an API key (x-api-key).",
                AuthFailure.Expired => "The credentials have expired; refresh the access token or use a current API key.",
                AuthFailure.Revoked => "The credentials have been revoked.",
                AuthFailure.InvalidApiKey => "The API key is not valid.",
                _ => "The access token is not valid.",
            };
            error = new PlatformException(ErrorCode.Unauthenticated, message, new Dictionary<string, string> { ["cause"] = cause });
        }
        else
        {
            var missing = authorizeResult.AuthorizationFailure?.FailureReasons.Select(r => r.Message).FirstOrDefault();
            error = missing is null
                ? new PlatformException(ErrorCode.PermissionDenied, "The credentials do not allow this call.")
                : CallerExtensions.MissingScope(missing);
        }

        return TrailersOnlyResponse.WriteAsync(context, error);
    }
}
