using System.Net;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Requests;

namespace PyAirtable.Host.Gateway;

/// <summary>
/// The call's <see cref="RequestMetadata"/>, built the first time service code reads it: most calls (health checks, cached reads
/// that never ask for the client's address) never do, and each would otherwise pay for the record and the address's text, twice
/// for an authenticated call (once more with its caller). What it is built from is taken when the request starts, so a read after
/// the response (a task the call left behind) never sees a later request's connection.
/// <para>
/// The same object is the call's <see cref="ICallerCredentialsFeature"/> once it is authenticated: one allocation for both.
/// </para>
/// </summary>
internal sealed class GatewayRequestMetadata(string requestId, IPAddress? clientIp, string userAgent, DateTime timestamp)
    : IRequestMetadataFeature, ICallerCredentialsFeature
{
    private RequestMetadata? _metadata;
    private UserContext? _caller;

    public RequestMetadata Metadata
    {
        get => _metadata ??= new RequestMetadata
        {
            RequestId = requestId,
            UserContext = _caller,
            ClientIp = clientIp?.ToString() ?? "",
            UserAgent = userAgent,
            Timestamp = timestamp,
        };
        set => _metadata = value;
    }

    public UserContext? Caller => _metadata is { } built ? built.UserContext : _caller;

    /// <summary>The authenticated caller (after authentication, before the call is served).</summary>
    public void SetCaller(UserContext caller)
    {
        if (_metadata is null)
        {
            _caller = caller;
        }
        else
        {
            _metadata = _metadata with { UserContext = caller };
        }
    }

    public string? Authorization { get; set; }

    public string? ApiKey { get; set; }

    public static GatewayRequestMetadata Of(HttpContext context, string requestId, DateTime timestamp) =>
        new(requestId, context.Connection.RemoteIpAddress, context.Request.Headers.UserAgent.ToString(), timestamp);
}
