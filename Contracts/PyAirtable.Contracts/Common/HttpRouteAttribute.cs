namespace PyAirtable.Contracts.Common;

/// <summary>
/// The JSON/HTTP route of an RPC, in the spirit of <c>google.api.http</c>: declared once, on the contract method, and
/// served by the host from the same implementation and the same gRPC pipeline (authentication, scopes, validation,
/// rate limits, request ids, error mapping, telemetry). <see cref="Path"/> names request fields in braces
/// (<c>/v1/users/{user_id}</c>, proto field names); the remaining fields come from the JSON body when
/// <see cref="Body"/> is <c>"*"</c>, otherwise from the query string (<c>?pagination.page_size=10</c>).
/// Bodies and responses are proto3 canonical JSON of the exported messages.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class HttpRouteAttribute : Attribute
{
    /// <summary>A route: <paramref name="verb"/> is GET, POST, PUT, PATCH or DELETE; <paramref name="path"/> starts with <c>/</c>.</summary>
    public HttpRouteAttribute(string verb, string path)
    {
        Verb = verb;
        Path = path;
    }

    /// <summary>The HTTP method.</summary>
    public string Verb { get; }

    /// <summary>The path template; <c>{field}</c> segments bind request fields.</summary>
    public string Path { get; }

    /// <summary>
    /// <c>"*"</c>: the request body is the message (minus path fields); <c>""</c>: no body, fields from the query string.
    /// Unset: <c>"*"</c> for POST, PUT and PATCH, none for GET and DELETE.
    /// </summary>
    public string? Body { get; init; }

    /// <summary>
    /// For a client-streaming RPC: the <c>bytes</c> field the raw request body is streamed into. The body is cut into
    /// chunks, each sent as one message of the stream with this field set; the first message also carries the path and
    /// query fields. <c>"*"</c>: the body is newline-delimited JSON, each line one message of the stream. The body is
    /// never held whole in memory.
    /// </summary>
    public string? StreamBody { get; init; }
}
