using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Users;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Workspaces.Stores;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Workspaces;

/// <summary>
/// pyairtable.workspaces.v1.WorkspaceService over the <c>workspaces</c> schema. Who may do what is asked
/// of IPermissionService with the caller's own context (in process or on another host alike), before any
/// data is touched. Creating and deleting write the row in a transaction that commits only after the
/// Permission service's write succeeded, finishing even if the caller goes away meanwhile.
/// </summary>
/// <remarks>
/// Nobody becomes a member without consent: AddMember makes an invitation addressed to the user, who accepts
/// or declines it; members leave with LeaveWorkspace. The invited user id is checked with the User service as
/// this service (a service token minted by the Auth service on this host), so owners learn only whether an id
/// they typed is a user — never a profile.
/// Each RPC validates the request, authorizes the caller (<see cref="RequireAsync"/>), reads or writes through the
/// stores of one <see cref="WorkspaceSession"/> (the SQL lives in <c>Stores/</c>) and maps the result; the RPCs are
/// grouped by feature: workspaces, bases and members.
/// </remarks>
public sealed partial class WorkspaceService(
    NpgsqlDataSource dataSource, IPermissionService permissions, CursorCodec cursors, IUserService users, WorkspaceMemory memory,
    IServiceTokenIssuer? serviceTokens = null) : IWorkspaceService
{
    private const string ServiceName = "workspaces";
    private static readonly string[] ServiceScopes = [Scopes.UsersRead];
    private const string WorkspacesAreUsers = "Workspaces belong to users.";

    /// <summary>NOT_FOUND when the caller cannot read the resource, PERMISSION_DENIED when they can but lack the level.</summary>
    private async Task<PermissionLevel> RequireAsync(CallContext context, ResourceType type, Guid id, PermissionLevel level)
    {
        var check = await permissions.CheckPermissionAsync(new CheckPermissionRequest { Resource = Ref(type, id), Level = level }, context);
        if (check.EffectiveLevel < PermissionLevel.Read)
        {
            Fail.NotFound(type.ToString().ToLowerInvariant(), id.ToString());
        }

        if (!check.Allowed)
        {
            Fail.PermissionDenied($"This needs {level.ToString().ToLowerInvariant()} on the {type.ToString().ToLowerInvariant()}; " +
                $"you have {check.EffectiveLevel.ToString().ToLowerInvariant()}.");
        }

        return check.EffectiveLevel;
    }

    private Task<PermissionLevel> ExistsAsync(CallContext context, Guid workspace) =>
        RequireAsync(context, ResourceType.Workspace, workspace, PermissionLevel.Read);

    /// <summary>
    /// Runs a Permission-service write, then records its event (a failed write leaves no event; once the write
    /// is done the event is written even if the caller has gone). A crash between the two can still lose the
    /// event: the two services keep separate transactions.
    /// </summary>
    private async Task<TResult> WithEventAsync<TResult, TEvent>(CallContext context, Func<Task<(TResult, TEvent?)>> write)
        where TEvent : class, IDomainEvent
    {
        var (result, domainEvent) = await write();
        if (domainEvent is not null)
        {
            // The write happened: record it whatever the caller does now.
            await using var db = await WorkspaceSession.BeginAsync(dataSource, memory, CancellationToken.None);
            await Outbox.EnqueueAsync(db.WriteTransaction, domainEvent, Origin(context), CancellationToken.None);
            await db.CommitAsync(CancellationToken.None);
        }

        return result;
    }

    private static EventOrigin Origin(CallContext context) => EventOrigin.Of<IWorkspaceService>(context);

    private static ResourceRef Ref(ResourceType type, Guid id) => new() { Type = type, Id = id.ToString() };
}
