using System.Globalization;
using System.Text.Json;
using PyAirtable.Services.Infrastructure.Requests;

namespace PyAirtable.Host.Gateway.Rest;

/// <summary>
/// The JSON/HTTP API's retirement switches (section <c>RestApi</c>), keyed by gRPC method (<c>package.Service/Method</c>),
/// read on every call so a configuration reload takes effect at once: <see cref="Deprecated"/> announces a route's end
/// (<c>Deprecation</c> and <c>Sunset</c> headers, RFC 9745 and RFC 8594); <see cref="Retired"/> switches it off with a
/// clear error (HTTP 410, UNIMPLEMENTED, naming the gRPC method to call instead). gRPC callers are never affected.
/// Methods a contract marks <c>[ApiDeprecated]</c> (a v1 superseded by v2) announce their end by default too
/// (<see cref="AnnounceContractDeprecations"/>), with the contract's sunset unless <see cref="Deprecated"/> names another.
/// </summary>
internal sealed class RestApiOptions
{
    public const string Section = "RestApi";

    /// <summary>
    /// Method → its deprecation, as an ISO 8601 interval <c>SINCE/SUNSET</c> (<c>2026-12-01/2027-06-30</c>): the date the
    /// deprecation took effect (the <c>Deprecation</c> header) and the date the route may stop (<c>Sunset</c>). <c>SINCE/</c>
    /// when no sunset is decided; a lone date is a sunset, for a method whose contract says since when it is deprecated.
    /// </summary>
    public Dictionary<string, string> Deprecated { get; init; } = new(StringComparer.Ordinal);

    /// <summary>
    /// True (default): the routes of methods the contracts mark deprecated carry <c>Deprecation</c> (and <c>Sunset</c> when
    /// the contract names one) without a <see cref="Deprecated"/> entry. False: only the entries of <see cref="Deprecated"/> do.
    /// </summary>
    public bool AnnounceContractDeprecations { get; init; } = true;

    /// <summary>Method → the date it was switched off (ISO 8601).</summary>
    public Dictionary<string, string> Retired { get; init; } = new(StringComparer.Ordinal);
}

internal static class RestRetirement
{
    /// <summary>
    /// Adds the deprecation headers of a route whose method is deprecated: <c>Deprecation: @SECONDS</c> (RFC 9745, a
    /// structured-field date: when the deprecation took effect) and <c>Sunset</c> (RFC 8594) when a sunset is known.
    /// </summary>
    public static void Announce(HttpResponse response, RestRoute route, RestApiOptions options)
    {
        if (!TryGetDeprecation(route, options, out var since, out var sunset, out _))
        {
            return;
        }

        // A reload that left a date out or unreadable (a start refuses such settings, see Validate) announces what it can.
        if (since is { } effective)
        {
            response.Headers["Deprecation"] = "@" + effective.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }

        if (sunset is { } end)
        {
            response.Headers["Sunset"] = end.ToString("r", CultureInfo.InvariantCulture);
        }
    }

    /// <summary>
    /// Refuses, naming each setting, a deprecation that cannot be announced as RFC 9745 asks: a date that does not parse,
    /// no date the deprecation took effect, or a sunset before it. Run when the host starts.
    /// </summary>
    public static void Validate(IEnumerable<RestRoute> routes, RestApiOptions options)
    {
        var problems = new List<string>();
        foreach (var route in routes)
        {
            if (TryGetDeprecation(route, options, out var since, out var sunset, out var problem) && problem is null)
            {
                problem = since is null
                    ? "names no date the deprecation took effect: write SINCE/SUNSET, e.g. 2026-12-01/2027-06-30"
                    : since > sunset ? "has its sunset before the date the deprecation took effect"
                    : null;
            }

            if (problem is not null)
            {
                problems.Add(options.Deprecated.TryGetValue(route.GrpcPath[1..], out var entry)
                    ? $"{RestApiOptions.Section}:Deprecated:{route.GrpcPath[1..]} = '{entry}' {problem}"
                    : $"the contract's [ApiDeprecated] of {route.GrpcPath[1..]} {problem} (set its Since)");
            }
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException("JSON/HTTP deprecations: " + string.Join("; ", problems.Distinct()));
        }
    }

    /// <summary>
    /// The route's deprecation (false when it is not announced): since when, and its sunset, each null when unknown; the
    /// setting names the dates, else the contract's <see cref="ApiDeprecatedAttribute"/>. <paramref name="problem"/> says
    /// which date of the setting does not read.
    /// </summary>
    private static bool TryGetDeprecation(RestRoute route, RestApiOptions options,
        out DateTimeOffset? since, out DateTimeOffset? sunset, out string? problem)
    {
        string? sinceText = route.Deprecated?.Since, sunsetText = route.Deprecated?.Sunset;
        var configured = options.Deprecated.TryGetValue(route.GrpcPath[1..], out var entry);
        if (configured)
        {
            var slash = entry!.IndexOf('/', StringComparison.Ordinal);
            (sinceText, sunsetText) = slash < 0 ? (sinceText, entry) : (entry[..slash], entry[(slash + 1)..]);
        }

        since = Date(sinceText);
        sunset = Date(sunsetText);
        problem = !string.IsNullOrEmpty(sinceText) && since is null
            ? $"has a date the deprecation took effect ('{sinceText}') that is not an ISO 8601 date"
            : !string.IsNullOrEmpty(sunsetText) && sunset is null ? $"has a sunset ('{sunsetText}') that is not an ISO 8601 date"
            : null;
        return configured || (options.AnnounceContractDeprecations && route.Deprecated is not null);
    }

    private static DateTimeOffset? Date(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date) ? date : null;

    /// <summary>Answers a retired route: 410 Gone with a google.rpc.Status that says what to call instead. True when it did.</summary>
    public static async Task<bool> RefuseIfRetiredAsync(HttpContext context, RestRoute route, RestApiOptions options)
    {
        if (!options.Retired.TryGetValue(route.GrpcPath[1..], out var since))
        {
            return false;
        }

        var requestId = RequestContextMiddleware.AcceptRequestId(context.Request.Headers[RequestMetadataExtensions.RequestIdHeader])
            ?? Guid.CreateVersion7().ToString("N");
        var response = context.Response;
        response.StatusCode = StatusCodes.Status410Gone;
        response.ContentType = "application/json";
        response.Headers[RequestMetadataExtensions.RequestIdHeader] = requestId;
        var message = $"{route.Verb} {route.Template} was retired on {since}: call {route.GrpcPath[1..]} over gRPC or gRPC-Web instead "
            + "(the same contract; see the migration guide).";
        await using var json = new Utf8JsonWriter(response.BodyWriter);
        json.WriteStartObject();
        json.WriteNumber("code", 12);
        json.WriteString("message", message);
        json.WriteStartArray("details");
        json.WriteStartObject();
        json.WriteString("@type", "type.googleapis.com/google.rpc.ErrorInfo");
        json.WriteString("reason", "ERROR_CODE_UNIMPLEMENTED");
        json.WriteString("domain", "pyairtable.dev");
        json.WriteStartObject("metadata");
        json.WriteString("cause", "rest_route_retired");
        json.WriteString("grpc_method", route.GrpcPath[1..]);
        json.WriteString("retired_on", since);
        json.WriteString("request_id", requestId);
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
        return true;
    }
}
