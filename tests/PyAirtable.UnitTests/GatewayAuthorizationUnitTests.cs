using System.Security.Claims;
using System.Text.Encodings.Web;
using Google.Rpc;
using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PyAirtable.Host.Gateway;
using PyAirtable.Host.Gateway.Authentication;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Requests;

namespace PyAirtable.UnitTests;

/// <summary>
/// The gateway's parts after authentication, without a host: what <see cref="CallerContextMiddleware"/> gives service code and
/// calls to other hosts, how <see cref="ScopeHandler"/> and <see cref="ScopePolicyProvider"/> decide scopes, and how
/// <see cref="GrpcAuthorizationResultHandler"/> answers a refusal (a gRPC status with its cause, or HTTP for anything else).
/// </summary>
public sealed class GatewayAuthorizationUnitTests
{
    [Fact]
    public async Task AnAuthenticatedCall_GivesServiceCodeItsCaller_AndKeepsItsBearerHeaderForCallsToOtherHosts()
    {
        var (context, metadata) = Call();
        context.Request.Headers.Authorization = "Bearer t1";
        context.User = Principal(new Claim(PlatformClaims.Subject, "u1"), new Claim(PlatformClaims.Email, "a@example.com"),
            new Claim(PlatformClaims.Scope, "users:read workspaces:read"), new Claim(PlatformClaims.SessionId, "s1"));

        Assert.Equal(1, await RunCallerContextAsync(context));

        var caller = metadata.Metadata.UserContext!;
        Assert.Equal("u1", caller.UserId);
        Assert.Equal("a@example.com", caller.Email);
        Assert.Equal(["users:read", "workspaces:read"], caller.Scopes);
        Assert.Equal("s1", caller.CredentialId);
        var credentials = context.Features.Get<ICallerCredentialsFeature>();
        Assert.Same(metadata, credentials); // one object for both
        Assert.Equal("Bearer t1", credentials!.Authorization);
        Assert.Null(credentials.ApiKey);
    }

    [Fact]
    public async Task AKeptCredential_GivesServiceCodeTheCallerDerivedOnce()
    {
        var (context, metadata) = Call();
        context.Request.Headers.Authorization = "Bearer t1";
        var identity = new ReadOnlyClaimsIdentity([new Claim(PlatformClaims.Subject, "u1")], "Bearer");
        context.User = new ClaimsPrincipal(identity);

        await RunCallerContextAsync(context);

        Assert.Same(identity.Caller.UserContext, metadata.Caller);
    }

    [Fact]
    public async Task AnApiKeyCall_CarriesOnlyTheKey_EvenBesideAnAuthorizationHeader()
    {
        // The Platform scheme authenticates a call with an x-api-key header by the key alone: that is what other hosts must see.
        var (context, metadata) = Call();
        context.Request.Headers[ApiKeyAuthenticationHandler.HeaderName] = "pk_secret";
        context.Request.Headers.Authorization = "Bearer t1";
        context.User = Principal(new Claim(PlatformClaims.Subject, "u1"), new Claim(PlatformClaims.AuthMethod, "api_key"),
            new Claim(PlatformClaims.ApiKeyId, "k1"));

        await RunCallerContextAsync(context);

        Assert.Equal("k1", metadata.Caller!.CredentialId);
        var credentials = context.Features.Get<ICallerCredentialsFeature>()!;
        Assert.Equal("pk_secret", credentials.ApiKey);
        Assert.Null(credentials.Authorization);
    }

    [Fact]
    public async Task AnAnonymousCall_HasNoCaller_AndNoCredentialsToCarry()
    {
        var (context, metadata) = Call();
        context.Request.Headers.Authorization = "Bearer not-verified";
        context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(PlatformClaims.Subject, "u1")])); // no authentication type

        Assert.Equal(1, await RunCallerContextAsync(context));

        Assert.Null(metadata.Caller);
        Assert.Same(metadata, context.Features.Get<IRequestMetadataFeature>());
        Assert.Null(context.Features.Get<ICallerCredentialsFeature>());
    }

    [Fact]
    public async Task WithoutRequestMetadata_TheCredentialsAreStillKeptForCallsToOtherHosts()
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.Authorization = "Bearer t1";
        context.User = Principal(new Claim(PlatformClaims.Subject, "u1"));

        Assert.Equal(1, await RunCallerContextAsync(context));

        var credentials = Assert.IsType<CallerCredentialsFeature>(context.Features.Get<ICallerCredentialsFeature>());
        Assert.Equal("Bearer t1", credentials.Authorization);
        Assert.Null(credentials.ApiKey);
    }

    [Fact]
    public async Task AScope_IsHeldByUnrestrictedCredentials_AndByScopedOnesThatNameIt_Exactly()
    {
        foreach (var kept in new[] { false, true })
        {
            // A kept credential's scopes were derived once; any other principal's are read from its claims: the same answers.
            ClaimsPrincipal User(params Claim[] claims) =>
                kept ? new ClaimsPrincipal(new ReadOnlyClaimsIdentity(claims, "Bearer")) : Principal(claims);
            var subject = new Claim(PlatformClaims.Subject, "u1");
            var scoped = User(subject, new Claim(PlatformClaims.Scope, "users:read workspaces:read"));

            Assert.True((await DecideScopeAsync(User(subject), "users:write")).HasSucceeded); // a user's token is not limited
            Assert.True((await DecideScopeAsync(scoped, "workspaces:read")).HasSucceeded);
            AssertRefused(await DecideScopeAsync(scoped, "users:write"), "users:write");
            AssertRefused(await DecideScopeAsync(scoped, "Users:read"), "Users:read"); // scopes are compared as written
        }
    }

    [Fact]
    public async Task AScope_IsNeverHeldByAnUnauthenticatedCaller()
    {
        // Claims without an authentication type were never verified: holding no scope is not "unrestricted" for them.
        var unverified = new ClaimsPrincipal(new ClaimsIdentity([new Claim(PlatformClaims.Subject, "u1")]));
        AssertRefused(await DecideScopeAsync(unverified, "users:read"), "users:read");
        AssertRefused(await DecideScopeAsync(new ClaimsPrincipal(), "users:read"), "users:read");
    }

    [Fact]
    public async Task AScopePolicy_AsksForAnAuthenticatedCallerAndTheScope_AndIsBuiltOncePerName()
    {
        var options = new AuthorizationOptions();
        var admins = new AuthorizationPolicyBuilder().RequireRole("admin").Build();
        options.AddPolicy("admins", admins);
        var provider = new ScopePolicyProvider(Options.Create(options));

        var policy = (await provider.GetPolicyAsync(RequiresScopeAttribute.PolicyPrefix + "users:read"))!;
        Assert.Collection(policy.Requirements,
            r => Assert.IsType<DenyAnonymousAuthorizationRequirement>(r),
            r => Assert.Equal("users:read", Assert.IsType<ScopeRequirement>(r).Scope));
        Assert.Empty(policy.AuthenticationSchemes); // the call was authenticated once, before authorization

        // The same policy object for a name, so the authorization middleware may keep each endpoint's combined policy.
        Assert.True(provider.AllowsCachingPolicies);
        Assert.Same(policy, await provider.GetPolicyAsync(RequiresScopeAttribute.PolicyPrefix + "users:read"));
        var other = (await provider.GetPolicyAsync(RequiresScopeAttribute.PolicyPrefix + "users:write"))!;
        Assert.Equal("users:write", Assert.IsType<ScopeRequirement>(other.Requirements[1]).Scope);

        // Any other name is the configured policy, or none.
        Assert.Same(admins, await provider.GetPolicyAsync("admins"));
        Assert.Null(await provider.GetPolicyAsync("Scope:users:read"));
        Assert.Same(options.DefaultPolicy, await provider.GetDefaultPolicyAsync());
    }

    public static TheoryData<string?, string, string> Causes => new()
    {
        { null, AuthFailure.MissingCredentials, "needs credentials" },
        { AuthFailure.MissingCredentials, AuthFailure.MissingCredentials, "needs credentials" },
        { AuthFailure.Expired, AuthFailure.Expired, "expired" },
        { AuthFailure.Revoked, AuthFailure.Revoked, "revoked" },
        { AuthFailure.InvalidApiKey, AuthFailure.InvalidApiKey, "API key is not valid" },
        { AuthFailure.InvalidToken, AuthFailure.InvalidToken, "access token is not valid" },
    };

    [Theory]
    [MemberData(nameof(Causes))]
    public async Task AnUnauthenticatedGrpcCall_IsUnauthenticated_WithTheCauseAuthenticationLeft(
        string? cause, string expected, string says)
    {
        var (handler, _) = ResultHandler();
        var context = GrpcRequest();
        if (cause is not null)
        {
            context.Items[AuthFailure.ItemKey] = cause;
        }

        var next = 0;
        await handler.HandleAsync(_ =>
        {
            next++;
            return Task.CompletedTask;
        }, context, Authenticated, PolicyAuthorizationResult.Challenge());

        Assert.Equal(0, next);
        var status = AssertTrailersOnly(context.Response, StatusCode.Unauthenticated);
        Assert.Contains(says, status.Message, StringComparison.Ordinal);
        var info = status.GetDetail<ErrorInfo>();
        Assert.Equal("ERROR_CODE_UNAUTHENTICATED", info.Reason);
        Assert.Equal(expected, info.Metadata["cause"]);
        Assert.Equal("req-1", info.Metadata["request_id"]);
    }

    [Fact]
    public async Task CredentialsThatCannotBeChecked_AreUnavailable_WithARetryDelay_NotRefused()
    {
        var (handler, _) = ResultHandler();
        var context = GrpcRequest();
        context.Items[AuthFailure.ItemKey] = AuthFailure.UnavailableCause;

        await handler.HandleAsync(_ => Task.CompletedTask, context, Authenticated, PolicyAuthorizationResult.Challenge());

        var status = AssertTrailersOnly(context.Response, StatusCode.Unavailable);
        Assert.Contains("retry", status.Message, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(1), status.GetDetail<RetryInfo>().RetryDelay.ToTimeSpan());
    }

    [Fact]
    public async Task ARefusal_IsUnauthenticated_WheneverTheCallerIsNot_AndPermissionDeniedOnlyForAnAuthenticatedOne()
    {
        var (handler, _) = ResultHandler();
        var missingScope = AuthorizationFailure.Failed([new AuthorizationFailureReason(new ScopeHandler(), "users:write")]);

        // A forbidden call whose caller is anonymous: the caller must authenticate first, nothing is denied to it yet.
        var anonymous = GrpcRequest();
        await handler.HandleAsync(_ => Task.CompletedTask, anonymous, Authenticated, PolicyAuthorizationResult.Forbid(missingScope));
        Assert.Equal(AuthFailure.MissingCredentials,
            AssertTrailersOnly(anonymous.Response, StatusCode.Unauthenticated).GetDetail<ErrorInfo>().Metadata["cause"]);

        // A challenge is a request for credentials, whoever the caller seemed to be.
        var challenged = GrpcRequest(Principal(new Claim(PlatformClaims.Subject, "u1")));
        challenged.Items[AuthFailure.ItemKey] = AuthFailure.Expired;
        await handler.HandleAsync(_ => Task.CompletedTask, challenged, Authenticated, PolicyAuthorizationResult.Challenge());
        Assert.Equal(AuthFailure.Expired,
            AssertTrailersOnly(challenged.Response, StatusCode.Unauthenticated).GetDetail<ErrorInfo>().Metadata["cause"]);

        // An authenticated caller without the scope: PERMISSION_DENIED naming the scope, as the services' own check does.
        var scoped = GrpcRequest(Principal(new Claim(PlatformClaims.Subject, "u1"), new Claim(PlatformClaims.Scope, "users:read")));
        await handler.HandleAsync(_ => Task.CompletedTask, scoped, Authenticated, PolicyAuthorizationResult.Forbid(missingScope));
        var denied = AssertTrailersOnly(scoped.Response, StatusCode.PermissionDenied);
        Assert.Equal(CallerExtensions.MissingScope("users:write").Message, denied.Message);
        Assert.Equal("users:write", denied.GetDetail<ErrorInfo>().Metadata["required_scope"]);

        // Refused for no stated reason (a handler the host added failed the call without one): PERMISSION_DENIED without a scope.
        foreach (var failure in new[] { AuthorizationFailure.ExplicitFail(), null })
        {
            var other = GrpcRequest(Principal(new Claim(PlatformClaims.Subject, "u1")));
            await handler.HandleAsync(_ => Task.CompletedTask, other, Authenticated, PolicyAuthorizationResult.Forbid(failure));
            var refused = AssertTrailersOnly(other.Response, StatusCode.PermissionDenied);
            Assert.Contains("do not allow", refused.Message, StringComparison.Ordinal);
            Assert.False(refused.GetDetail<ErrorInfo>().Metadata.ContainsKey("required_scope"));
        }
    }

    [Theory]
    [InlineData("application/grpc")]
    [InlineData("application/grpc+proto")]
    [InlineData("Application/GRPC-Web")]
    public async Task EveryGrpcContentType_IsAnsweredTheGrpcWay(string contentType)
    {
        var (handler, _) = ResultHandler();
        var context = GrpcRequest();
        context.Request.ContentType = contentType;

        await handler.HandleAsync(_ => Task.CompletedTask, context, Authenticated, PolicyAuthorizationResult.Challenge());

        AssertTrailersOnly(context.Response, StatusCode.Unauthenticated);
    }

    [Theory]
    [InlineData(null, StatusCodes.Status401Unauthorized, true)]
    [InlineData("application/json", StatusCodes.Status401Unauthorized, true)]
    [InlineData("text/plain", StatusCodes.Status403Forbidden, false)]
    public async Task ARefusedCallThatIsNotGrpc_GetsTheHttpAnswer(string? contentType, int expected, bool challenge)
    {
        // What reaches authorization without a gRPC content type is not a contract's route (the JSON API's calls are
        // rewritten into gRPC before it): ASP.NET Core's answer, 401 or 403, from the scheme.
        var (handler, _) = ResultHandler();
        using var services = HttpServices();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.ContentType = contentType;
        context.User = Principal(new Claim(PlatformClaims.Subject, "u1"));

        await handler.HandleAsync(_ => Task.CompletedTask, context, Authenticated,
            challenge ? PolicyAuthorizationResult.Challenge() : PolicyAuthorizationResult.Forbid());

        Assert.Equal(expected, context.Response.StatusCode);
        Assert.False(context.Response.Headers.ContainsKey("grpc-status"));
    }

    [Fact]
    public async Task AnAuthorizedCall_GoesOn_AndTeachesTheShortcutItsEndpointsPolicy()
    {
        var (handler, policies) = ResultHandler();
        var endpoint = new Endpoint(null, new EndpointMetadataCollection(), "rpc");
        var scoped = new AuthorizationPolicyBuilder().RequireAuthenticatedUser()
            .AddRequirements(new ScopeRequirement("users:read")).Build();
        var context = GrpcRequest(Principal(new Claim(PlatformClaims.Subject, "u1")));
        context.SetEndpoint(endpoint);
        Assert.Null(policies.Find(endpoint));

        var next = 0;
        await handler.HandleAsync(_ =>
        {
            next++;
            return Task.CompletedTask;
        }, context, scoped, PolicyAuthorizationResult.Success());

        Assert.Equal(1, next);
        Assert.False(context.Response.Headers.ContainsKey("grpc-status"));
        Assert.Equal(["users:read"], policies.Find(endpoint)!);

        // A refused call teaches it as well: the policy is the endpoint's, whoever called.
        var refusedEndpoint = new Endpoint(null, new EndpointMetadataCollection(), "other");
        var refused = GrpcRequest();
        refused.SetEndpoint(refusedEndpoint);
        await handler.HandleAsync(_ => Task.CompletedTask, refused, Authenticated, PolicyAuthorizationResult.Challenge());
        Assert.Equal([], policies.Find(refusedEndpoint)!);
    }

    private static readonly AuthorizationPolicy Authenticated = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();

    private static ClaimsPrincipal Principal(params Claim[] claims) => new(new ClaimsIdentity(claims, "Bearer"));

    private static (DefaultHttpContext Context, GatewayRequestMetadata Metadata) Call()
    {
        var context = new DefaultHttpContext();
        var metadata = GatewayRequestMetadata.Of(context, "req-1", DateTime.UtcNow);
        context.Features.Set<IRequestMetadataFeature>(metadata);
        return (context, metadata);
    }

    /// <summary>Runs the middleware; returns how many times it called the next one.</summary>
    private static async Task<int> RunCallerContextAsync(HttpContext context)
    {
        var next = 0;
        await new CallerContextMiddleware(_ =>
        {
            next++;
            return Task.CompletedTask;
        }).InvokeAsync(context);
        return next;
    }

    private static async Task<AuthorizationHandlerContext> DecideScopeAsync(ClaimsPrincipal user, string scope)
    {
        var context = new AuthorizationHandlerContext([new ScopeRequirement(scope)], user, null);
        await new ScopeHandler().HandleAsync(context);
        return context;
    }

    private static void AssertRefused(AuthorizationHandlerContext decision, string scope)
    {
        Assert.False(decision.HasSucceeded);
        Assert.True(decision.HasFailed);
        var reason = Assert.Single(decision.FailureReasons);
        Assert.Equal(scope, reason.Message); // the result handler names it in PERMISSION_DENIED
        Assert.IsType<ScopeHandler>(reason.Handler);
    }

    private static (GrpcAuthorizationResultHandler Handler, EndpointPolicies Policies) ResultHandler()
    {
        var policies = new EndpointPolicies(new ScopePolicyProvider(Options.Create(new AuthorizationOptions())));
        return (new GrpcAuthorizationResultHandler(policies), policies);
    }

    private static DefaultHttpContext GrpcRequest(ClaimsPrincipal? user = null)
    {
        var context = new DefaultHttpContext { TraceIdentifier = "req-1" };
        context.Request.ContentType = "application/grpc";
        if (user is not null)
        {
            context.User = user;
        }

        return context;
    }

    /// <summary>A trailers-only gRPC answer (HTTP 200, the status in the headers): the status it carries.</summary>
    private static Google.Rpc.Status AssertTrailersOnly(Microsoft.AspNetCore.Http.HttpResponse response, StatusCode code)
    {
        Assert.Equal(StatusCodes.Status200OK, response.StatusCode);
        Assert.Equal("application/grpc", response.ContentType);
        Assert.Equal(((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture), response.Headers["grpc-status"].ToString());
        var details = response.Headers["grpc-status-details-bin"].ToString();
        var padded = details.PadRight(details.Length + ((4 - (details.Length % 4)) % 4), '='); // sent without padding
        var status = Google.Rpc.Status.Parser.ParseFrom(Convert.FromBase64String(padded));
        Assert.Equal((int)code, status.Code);
        Assert.Equal(status.Message, Uri.UnescapeDataString(response.Headers["grpc-message"].ToString()));
        return status;
    }

    /// <summary>ASP.NET Core's authentication with one scheme that authenticates nobody and answers 401/403 as any scheme does.</summary>
    private static ServiceProvider HttpServices() =>
        new ServiceCollection().AddLogging()
            .AddAuthentication(NobodyHandler.Name).AddScheme<AuthenticationSchemeOptions, NobodyHandler>(NobodyHandler.Name, null)
            .Services.BuildServiceProvider();

    private sealed class NobodyHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string Name = "nobody";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync() => Task.FromResult(AuthenticateResult.NoResult());
    }
}
