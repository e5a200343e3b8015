using System.Collections.Concurrent;
using System.Reflection;
using Grpc.Core;

namespace PyAirtable.Host.Telemetry;

/// <summary>The workspace a call's request named, for its analytics record.</summary>
internal sealed class CallWorkspaceFeature(string workspaceId)
{
    public string WorkspaceId { get; } = workspaceId;
}

/// <summary>
/// Notes (for <see cref="Gateway.GatewayInterceptor"/>) the workspace of a call whose request names one by a string property
/// <c>WorkspaceId</c> (the contracts'
/// convention, as <c>BaseId</c> is for bases), so <see cref="RpcMetricsMiddleware"/> can record it. Only what the
/// request says, never a lookup: calls that name a base but no workspace, and client-streaming calls, are recorded
/// without one. Nothing is done while recording is off.
/// </summary>
internal sealed class CallWorkspaceNotes(IServiceProvider services)
{
    public const string WorkspaceIdProperty = "WorkspaceId";

    private static readonly ConcurrentDictionary<Type, PropertyInfo?> WorkspaceIdOf = new();

    private readonly bool _enabled = services.GetService<PyAirtable.Services.Infrastructure.Telemetry.ICallRecorder>() is { Enabled: true };

    public void Note<TRequest>(TRequest request, ServerCallContext context)
        where TRequest : class
    {
        if (_enabled && WorkspaceIdOf.GetOrAdd(request.GetType(), Find) is { } property
            && property.GetValue(request) is string { Length: > 0 } workspaceId)
        {
            context.GetHttpContext().Features.Set(new CallWorkspaceFeature(workspaceId));
        }
    }

    private static PropertyInfo? Find(Type type) =>
        type.GetProperty(WorkspaceIdProperty, BindingFlags.Public | BindingFlags.Instance) is { } p && p.PropertyType == typeof(string)
            ? p
            : null;
}
