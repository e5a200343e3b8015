using System.Security.Claims;

namespace PyAirtable.Host.Gateway.Authentication;

/// <summary>
/// Who is calling, before authorization. Three paths:
/// <list type="bullet">
/// <item>no credentials (neither <c>authorization</c> nor <c>x-api-key</c>): the caller stays anonymous without building the
/// schemes' handlers, exactly what they would have found; authorization then refuses the call (missing credentials)
/// unless the endpoint allows anonymous callers;</item>
/// <item>a bearer token or an API key this host has verified before (<see cref="ValidatedTokenCache"/>, the API key handler's
/// verdicts): only revocation is checked, and the call's principal is the credential's shared, read-only one;</item>
/// <item>anything else: ASP.NET Core's authentication middleware with the Platform scheme (JwtBearer or the API key handler),
/// which adds a newly verified token to the cache.</item>
/// </list>
/// The cached path costs a memory lookup where the middleware would build two handlers, an event context, a ticket and a
/// principal with every claim cloned: it is the warm authenticated read's largest per-call cost after the network.
/// </summary>
internal static class GatewayAuthenticationMiddleware
{
    public static IApplicationBuilder UseGatewayAuthentication(this IApplicationBuilder app)
    {
        var validated = app.ApplicationServices.GetRequiredService<ValidatedTokenCache>();
        var apiKeys = app.ApplicationServices.GetRequiredService<VerifiedApiKeyCache>();
        var authenticating = app.New();
        authenticating.UseAuthentication();
        // WebApplication adds UseAuthentication at the head of the pipeline unless the app's own properties say it is in place;
        // the branch's flag is set on a copy, so say it here (else every call would authenticate in full before this).
        app.Properties[AuthenticationMiddlewareSetKey] = true;
        return app.Use(next =>
        {
            authenticating.Run(next);
            var authenticate = authenticating.Build();
            return context =>
            {
                var headers = context.Request.Headers;
                if (headers.TryGetValue(ApiKeyAuthenticationHandler.HeaderName, out var apiKey))
                {
                    return apiKey.Count == 1 && apiKeys.TryGet(apiKey[0], out var key)
                        ? CachedAsync(context, key, next)
                        : authenticate(context);
                }

                var authorization = headers.Authorization;
                if (authorization.Count == 0)
                {
                    return next(context);
                }

                // Kestrel keeps a connection's header value when the next request repeats it: reading the token as a span
                // keeps the warm path free of copies of it.
                return authorization.Count == 1 && BearerTokenSpan(authorization[0]) is { IsEmpty: false } token
                    && validated.TryGet(token, out var entry)
                        ? CachedAsync(context, entry, next)
                        : authenticate(context);
            };
        });
    }

    /// <summary>The key WebApplication looks for (Microsoft.AspNetCore.Builder.WebApplicationBuilder); a test proves it still works.</summary>
    private const string AuthenticationMiddlewareSetKey = "__AuthenticationMiddlewareSet";

    private static async Task CachedAsync(HttpContext context, VerifiedCredential entry, RequestDelegate next)
    {
        // A revoked (or uncheckable) token leaves the caller anonymous with the cause in the request's items, as the JwtBearer
        // path does: authorization refuses it with that cause.
        if (!await GatewayAuthentication.IsRevokedAsync(context, entry.CredentialKey, entry.Subject))
        {
            context.User = entry.Principal;
        }

        await next(context);
    }

    /// <summary>The token of an <c>authorization: Bearer …</c> header (the scheme in any case), or null.</summary>
    internal static string? BearerToken(string header) => BearerTokenSpan(header) is { IsEmpty: false } token ? token.ToString() : null;

    /// <summary>The token of an <c>authorization: Bearer …</c> header (the scheme in any case), or empty.</summary>
    internal static ReadOnlySpan<char> BearerTokenSpan(string? header) =>
        header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header.AsSpan("Bearer ".Length).Trim() : default;
}
