using Grpc.AspNetCore.HealthChecks;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using ProtoBuf.Grpc.Server;
using PyAirtable.Host.Gateway;
using PyAirtable.Host.Gateway.Authentication;
using PyAirtable.Host.Gateway.RateLimiting;
using PyAirtable.Host.Gateway.Rest;
using PyAirtable.Host.Telemetry;
using PyAirtable.Services.Analytics;
using PyAirtable.Services.Auth;
using PyAirtable.Services.Files;
using PyAirtable.Services.Health;
using PyAirtable.Services.Permissions;
using PyAirtable.Services.Users;
using PyAirtable.Services.Workspaces;
using PyAirtable.Services.Webhooks;
using PyAirtable.Services.Notifications;
using PyAirtable.Services.Infrastructure;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.Database;
using PyAirtable.Services.Infrastructure.Health;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Infrastructure.Security;

namespace PyAirtable.Host;

/// <summary>
/// How the host is put together. Program.cs is these three calls; tests call the same ones, so
/// what they exercise is what ships.
/// </summary>
public static partial class PlatformHost
{
    /// <summary>Exit code when PostgreSQL is not configured or unreachable at start-up.</summary>
    public const int DatabaseUnavailableExitCode = 3;

    /// <summary>Registers the gateway layer, infrastructure and every service.</summary>
    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        // appsettings.json sits beside the binary: find it whatever the working directory is.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        var services = builder.Services;
        // Blue-green weights (Routing:…) may live in a file of their own, read again when it changes: no restart to shift.
        if (builder.Configuration["Routing:File"] is { Length: > 0 } routingFile)
        {
            builder.Configuration.AddJsonFile(Path.GetFullPath(routingFile), optional: true, reloadOnChange: true);
        }

        // Headers up to these sizes are decoded and, past the gateway's 16 KiB metadata limit, refused for the one
        // call (RequestContextMiddleware); Kestrel's defaults (32 KiB total) would reset the whole HTTP/2
        // connection with every call on it. Beyond these, HPACK state forces a connection error.
        // mTLS between hosts (section Mtls; off unless configured, so a single ./run.sh host needs no certificates):
        // https endpoints serve this host's certificate and accept only client certificates the platform CA issued.
        var tls = PlatformTls.FromConfiguration(builder.Configuration);
        if (tls is not null)
        {
            services.AddSingleton(tls);
        }

        builder.WebHost.ConfigureKestrel(o =>
        {
            o.Limits.MaxRequestHeadersTotalSize = 128 * 1024;
            o.Limits.Http2.MaxRequestHeaderFieldSize = 64 * 1024;
            if (tls is not null)
            {
                o.ConfigureHttpsDefaults(https =>
                {
                    https.ServerCertificate = tls.Certificate;
                    https.ClientCertificateMode = tls.RequireClientCertificates
                        ? Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.RequireCertificate
                        : Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.AllowCertificate;
                    https.CheckCertificateRevocation = false; // a private CA publishes no revocation lists
                    https.ClientCertificateValidation = (certificate, _, _) => tls.IsPlatformCertificate(certificate);
                });
            }
        });
        builder.Logging.AddSimpleConsole(o =>
        {
            o.IncludeScopes = true;
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.UseUtcTimestamp = true;
        });
        // The health check service logs an error on every failing run; HealthTransitionLogger logs changes once.
        builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService", LogLevel.Critical);
        // ASP.NET Core's hosting opens a logging scope (request id, path) on every request whenever its logger is on at any level,
        // even with its request logs filtered out; RequestContextMiddleware's scope carries both, so one scope is pushed, not two.
        // Its other messages are "request starting/finished" (Information) and startup failures, which StartAsync throws anyway.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        services.AddSingleton<IHealthCheckPublisher, HealthTransitionLogger>();

        services.AddOptions<ShutdownOptions>().Bind(builder.Configuration.GetSection("Shutdown"));
        services.AddOptions<HostOptions>().Configure<Microsoft.Extensions.Options.IOptions<ShutdownOptions>>(
            (host, shutdown) => host.ShutdownTimeout = shutdown.Value.Timeout + shutdown.Value.DrainDelay);
        services.AddHostedService<GracefulShutdownService>();

        // Malformed request bytes are the caller's error (INVALID_ARGUMENT), not the handler's (UNKNOWN).
        services.AddHttpContextAccessor();
        services.AddSingleton<StrictMarshallerFactory>();
        services.AddSingleton(sp => ProtoBuf.Grpc.Configuration.BinderConfiguration.Create([sp.GetRequiredService<StrictMarshallerFactory>()]));
        // The interceptor keeps no per-call state: grpc-dotnet takes it from DI when registered there, and otherwise builds
        // it anew (with ActivatorUtilities) for every call.
        services.AddSingleton<ErrorMapping>();
        services.AddSingleton<CallWorkspaceNotes>();
        services.AddSingleton<RateLimitChecks>();
        services.AddSingleton<GatewayInterceptor>();
        // GatewayAuthorizationMiddleware (always in the pipeline) lets a call through without the authorization middleware's
        // per-call item that this check reads; CORS is not endpoint metadata here (UsePlatformCors).
        services.Configure<Microsoft.AspNetCore.Routing.RouteOptions>(o => o.SuppressCheckForUnhandledSecurityMetadata = true);
        services.AddCodeFirstGrpc(o =>
        {
            // Error mapping, the call's workspace for analytics, then rate limits: one interceptor (see why there).
            o.Interceptors.Add<GatewayInterceptor>();
            o.EnableDetailedErrors = false; // never send exception text; ErrorMapping decides what callers see
            // Unknown services and methods are answered by UnimplementedCalls (see why there), not by catch-all routes.
            o.IgnoreUnknownServices = true;
        });

        services.AddPlatformInfrastructure(builder.Configuration);
        builder.AddPlatformTelemetry();
        services.AddOptions<RateLimitOptions>().Bind(builder.Configuration.GetSection(RateLimitOptions.Section));
        services.AddSingleton<GatewayRateLimiter>();

        // grpc.health.v1: "" is the whole host; each service adds its own name (AddGrpcServiceHealth).
        services.AddGrpcHealthChecks(o =>
        {
            o.Services.Map("", r => r.Tags.Contains(HealthTags.Ready));
            o.UseHealthChecksCache = true; // Check and Watch serve the same published status
        });
        services.AddSingleton<HealthPublisher>();
        // The publisher's period bounds how late a change shows: look often so a dead database shows within seconds.
        services.Configure<HealthCheckPublisherOptions>(o =>
        {
            o.Delay = TimeSpan.Zero;
            o.Period = builder.Configuration.GetValue("Health:PublishPeriod", TimeSpan.FromSeconds(2));
            o.Timeout = TimeSpan.FromSeconds(5);
        });

        services.AddContractReflection();
        services.AddSingleton<Gateway.Rest.RestRouteTable>();
        services.AddOptions<Gateway.Rest.RestApiOptions>().Bind(builder.Configuration.GetSection(Gateway.Rest.RestApiOptions.Section));
        services.AddPlatformCors(builder.Configuration);
        services.AddGatewayAuthentication(builder.Configuration);

        // Services, one line each; each is served here unless Remote:<service name> points elsewhere.
        services.AddHealthService(builder.Configuration);
        services.AddAuthService(builder.Configuration);
        services.AddUserService(builder.Configuration);
        services.AddPermissionService(builder.Configuration);
        services.AddWorkspaceService(builder.Configuration);
        services.AddAnalyticsService(builder.Configuration);
        services.AddFileService(builder.Configuration);
        services.AddWebhookService(builder.Configuration);
        services.AddNotificationService(builder.Configuration);
        return builder;
    }

    /// <summary>Builds the app and maps the gateway pipeline, health endpoints and every service.</summary>
    public static WebApplication Build(WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var app = builder.Build();

        // First: who the client is, when a proxy or another platform host may say so; everything after counts that address.
        var proxies = app.Configuration.GetSection(Gateway.ForwardedHeadersOptions.Section).Get<Gateway.ForwardedHeadersOptions>()?
            .ParsedKnownProxies() ?? [];
        if (proxies.Count > 0 || app.Services.GetService<PlatformTls>() is not null)
        {
            app.UseMiddleware<Gateway.ForwardedClientAddress>(proxies);
        }

        // Browsers of the allowed origins (Cors:AllowedOrigins; none by default): preflights end here.
        app.UsePlatformCors();
        // A JSON/HTTP deprecation the Deprecation header (RFC 9745: a date) cannot state stops the start, naming the setting.
        Gateway.Rest.RestRetirement.Validate(app.Services.GetRequiredService<Gateway.Rest.RestRouteTable>().Routes,
            app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Gateway.Rest.RestApiOptions>>().Value);
        // Before routing: a JSON/HTTP request becomes the gRPC call of its route, so everything below serves it as one.
        app.UseMiddleware<Gateway.Rest.RestTranscodingMiddleware>();
        app.UseRouting();
        // gRPC-Web (browsers; HTTP/1.1 or 2): unwrapped into the same gRPC call, before anything that looks at calls.
        app.UseGrpcWeb(new Microsoft.AspNetCore.Builder.GrpcWebOptions { DefaultEnabled = true });
        // First: the scrape endpoint is not an RPC, and the RPC metrics see every call, refused ones too.
        app.UsePlatformTelemetry();
        // Which version of the platform answered (Deployment:Version, e.g. the image tag): blue and green tell apart.
        if (app.Configuration["Deployment:Version"] is { Length: > 0 } version)
        {
            app.Use((context, next) =>
            {
                context.Response.Headers["x-pyairtable-served-version"] = version;
                return next(context);
            });
        }

        app.UseMiddleware<RequestContextMiddleware>();
        app.UseMiddleware<ClientResetMiddleware>();
        app.UseMiddleware<UnimplementedCalls>();
        app.UseGatewayAuthentication();
        app.UseMiddleware<CallerContextMiddleware>();
        app.UseGatewayAuthorization();

        // Public: health and reflection. Everything else needs credentials (the fallback policy).
        app.MapGrpcHealthChecksService().AllowAnonymous();
        app.MapGrpcReflectionService().AllowAnonymous();
        // Kubernetes probes (HTTP/1.1 on the probe endpoint): liveness needs only a live process;
        // readiness needs the database, Redis when configured, and a host that is not shutting down.
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = r => r.Tags.Contains(HealthTags.Ready) }).AllowAnonymous();

        // Every contract bound to run in this process (AddContract), including ones tests add.
        app.MapContracts();
        // The JSON/HTTP API's OpenAPI 3.1 document (what `pyairtable openapi export` writes), for the contracts served here.
        app.MapGet("/openapi.json", (Gateway.Rest.RestRouteTable routes) => Results.Text(routes.OpenApiText, "application/json"))
            .AllowAnonymous();
        return app;
    }

    /// <summary>
    /// Checks the database, runs migrations and starts serving. A missing or unreachable database
    /// is reported as one line on stderr, not a stack trace.
    /// </summary>
    public static async Task<int> RunAsync(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        try
        {
            await StartAsync(app);
        }
        catch (DatabaseUnavailableException ex)
        {
            await Console.Error.WriteLineAsync("pyairtable: " + ex.Message);
            return DatabaseUnavailableExitCode;
        }

        await app.WaitForShutdownAsync();
        return 0;
    }

    /// <summary>Migrates and starts the app without blocking (tests use this).</summary>
    public static async Task StartAsync(WebApplication app, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(app);
        var info = app.Services.GetRequiredService<PlatformInfrastructureInfo>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("PyAirtable.Host");
        try
        {
            await app.Services.GetRequiredService<MigrationRunner>().RunAsync(cancellationToken);
        }
        catch (NpgsqlException ex) when (ex is not PostgresException)
        {
            throw new DatabaseUnavailableException(
                $"cannot reach PostgreSQL at {info.PostgresTarget}: {Innermost(ex).Message}. Is it running? (./run.sh starts one; set ConnectionStrings__Postgres to use another.)", ex);
        }
        catch (PostgresException ex)
        {
            throw new DatabaseUnavailableException(
                $"PostgreSQL at {info.PostgresTarget} refused the host: {ex.MessageText} ({ex.SqlState}). Check ConnectionStrings:Postgres.", ex);
        }

        await app.Services.GetRequiredService<CursorKeyProvider>().InitializeAsync(cancellationToken);

        if (!info.RedisConfigured)
        {
            LogNoRedis(logger);
        }

        await app.Services.GetRequiredService<HealthPublisher>().PublishNowAsync(cancellationToken);
        await app.StartAsync(cancellationToken);
        LogServing(logger, app.Urls, info.PostgresTarget);
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No ConnectionStrings:Redis configured: single-instance mode with an in-memory cache (rate limits and cache are not shared between hosts)")]
    private static partial void LogNoRedis(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "PyAirtable host serving on {Urls} (PostgreSQL {Postgres})")]
    private static partial void LogServing(ILogger logger, ICollection<string> urls, string postgres);
}
