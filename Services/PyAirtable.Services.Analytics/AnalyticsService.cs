using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using PyAirtable.Contracts.Analytics;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Analytics.Recording;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Analytics;

/// <summary>
/// pyairtable.analytics.v1.AnalyticsService over the <c>analytics</c> schema. The gateway records every served call
/// through <see cref="CallBuffer"/> and <see cref="CallWriter"/>; this class serves ingest, queries and the live tail.
/// </summary>
/// <remarks>
/// Each RPC validates the request (<see cref="AnalyticsRequests"/>), authorizes the caller (<see cref="AuthorizeReadAsync"/>:
/// platform admins and the platform's services see everything, a workspace's owners — asked of IPermissionService with
/// the caller's own context — see that workspace, everyone else is PERMISSION_DENIED), and reads or writes through the
/// stores of one <see cref="Stores.AnalyticsSession"/>. The RPCs are grouped by feature: ingest, query and tail.
/// </remarks>
public sealed partial class AnalyticsService(
    NpgsqlDataSource dataSource, IPermissionService permissions, IOptions<AnalyticsOptions> options, TimeProvider time,
    TailHub tails, IHostApplicationLifetime lifetime) : IAnalyticsService
{
    /// <summary>Returns when the caller may read the metrics of <paramref name="workspace"/> (null: of every workspace).</summary>
    private async Task AuthorizeReadAsync(CallContext context, UserContext caller, Guid? workspace)
    {
        if (caller.IsPrivileged())
        {
            return;
        }

        if (workspace is null)
        {
            Fail.PermissionDenied("Metrics of every workspace are for platform admins; name a workspace you own (workspace_id).");
        }

        var check = await permissions.CheckPermissionAsync(new CheckPermissionRequest
        {
            Resource = new ResourceRef { Type = ResourceType.Workspace, Id = workspace.Value.ToString() },
            Level = PermissionLevel.Owner,
        }, context);
        if (!check.Allowed)
        {
            Fail.PermissionDenied("Metrics of a workspace are for its owners and platform admins.");
        }
    }

    /// <summary>Whether the caller may record metrics for <paramref name="workspace"/>: its editors and up.</summary>
    private async Task<bool> MayWriteAsync(CallContext context, UserContext caller, Guid workspace)
    {
        if (caller.IsPrivileged())
        {
            return true;
        }

        var check = await permissions.CheckPermissionAsync(new CheckPermissionRequest
        {
            Resource = new ResourceRef { Type = ResourceType.Workspace, Id = workspace.ToString() },
            Level = PermissionLevel.Edit,
        }, context);
        return check.Allowed;
    }
}
