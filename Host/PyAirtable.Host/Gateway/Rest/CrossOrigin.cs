namespace PyAirtable.Host.Gateway.Rest;

/// <summary>
/// Cross-origin access for browsers (section <c>Cors</c>): the JSON/HTTP API and gRPC-Web answer pages of the origins in
/// <c>Cors:AllowedOrigins</c> (e.g. <c>https://app.example.com</c>), preflights included. Off by default: without
/// origins no CORS header is sent and browsers keep other origins out. Credentials travel in the <c>authorization</c>
/// or <c>x-api-key</c> header, never in cookies, so credentialed CORS is not enabled.
/// </summary>
internal static class CrossOrigin
{
    public const string Section = "Cors";

    /// <summary>What a page may read from an answer: the gRPC-Web trailers-in-headers, request ids, rate-limit and deprecation notices.</summary>
    private static readonly string[] Exposed =
    [
        "grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id", "retry-after", "deprecation", "sunset",
    ];

    public static IServiceCollection AddPlatformCors(this IServiceCollection services, IConfiguration configuration)
    {
        var origins = OriginsOf(configuration);
        if (origins.Length > 0)
        {
            services.AddCors(o => o.AddDefaultPolicy(policy => policy
                .WithOrigins(origins)
                .WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
                .AllowAnyHeader()
                .WithExposedHeaders(Exposed)
                .SetPreflightMaxAge(TimeSpan.FromMinutes(10))));
        }

        return services;
    }

    /// <summary>
    /// Before the JSON/HTTP adapter and gRPC-Web: a preflight (OPTIONS) is answered here and never reaches a route, and
    /// allowed origins get their headers on every answer. Nothing at all when no origin is configured.
    /// </summary>
    public static void UsePlatformCors(this WebApplication app)
    {
        if (OriginsOf(app.Configuration).Length > 0)
        {
            app.UseCors();
        }
    }

    private static string[] OriginsOf(IConfiguration configuration) =>
        configuration.GetSection(Section + ":AllowedOrigins").Get<string[]>()?.Where(o => o.Length > 0).ToArray() ?? [];
}
