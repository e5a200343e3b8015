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

    /// <summary>Method → sunset date (ISO 8601, e.g. <c>2027-06-30</c>).</summary>
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
    /// <summary>Adds the deprecation headers of a route whose method is deprecated.</summary>
    public static void Announce(HttpResponse response, RestRoute route, RestApiOptions options)
    {
        if (!options.Deprecated.TryGetValue(route.GrpcPath[1..], out var sunset))
        {
            if (!options.AnnounceContractDeprecations || route.Deprecated is null)
            {
                return;
            }

            sunset = route.Deprecated.Sunset;
        }

        response.Headers["Deprecation"] = "true";
        if (DateTimeOffset.TryParse(sunset, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date))
        {
            response.Headers["Sunset"] = date.ToString("r", CultureInfo.InvariantCulture);
        }
    }

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
