using Grpc.Core;
using Microsoft.AspNetCore.Http;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Identity;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Infrastructure.Requests;

/// <summary>
/// The server side of a call that never crossed a wire: what an in-process contract implementation sees when a platform
/// service calls it as itself, outside any served call (a background loop, a benchmark). <c>GetHttpContext()</c> finds the
/// HttpContext, whose request metadata names the service principal as the caller.
/// </summary>
public sealed class InProcessServerCall : ServerCallContext
{
    private readonly Dictionary<object, object> _userState;
    private readonly CancellationToken _cancellationToken;

    private InProcessServerCall(HttpContext http, CancellationToken cancellationToken)
    {
        _userState = new() { ["__HttpContext"] = http };
        _cancellationToken = cancellationToken;
    }

    /// <summary>A call context whose caller is the platform service <paramref name="service"/> holding <paramref name="scopes"/>.</summary>
    public static CallContext AsService(string service, IReadOnlyList<string> scopes, CancellationToken cancellationToken)
    {
        var http = new DefaultHttpContext();
        http.Features.Set<IRequestMetadataFeature>(new RequestMetadataFeature(new RequestMetadata
        {
            RequestId = Guid.NewGuid().ToString("N"), UserContext = ServicePrincipal.Of(service, scopes), Timestamp = DateTime.UtcNow,
        }));
        return new CallContext(service, new InProcessServerCall(http, cancellationToken));
    }

    protected override string MethodCore => "";
    protected override string HostCore => "localhost";
    protected override string PeerCore => "in-process";
    protected override DateTime DeadlineCore => DateTime.MaxValue;
    protected override Metadata RequestHeadersCore => [];
    protected override CancellationToken CancellationTokenCore => _cancellationToken;
    protected override Metadata ResponseTrailersCore => [];
    protected override Status StatusCore { get; set; }
    protected override WriteOptions? WriteOptionsCore { get; set; }
    protected override AuthContext AuthContextCore => new(null, []);
    protected override IDictionary<object, object> UserStateCore => _userState;

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
}
