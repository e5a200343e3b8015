using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Permissions.Stores;
using static PyAirtable.Services.Permissions.PermissionRequests;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Permissions;

/// <summary>
/// pyairtable.permissions.v1.PermissionService over the <c>permissions</c> schema. Every check is
/// computed from PostgreSQL (no decision cache yet), so a revoke is seen by the next check on every
/// host, and a consistency token is always honoured.
/// </summary>
/// <remarks>
/// Each RPC validates the request, authorizes the caller (<c>PermissionService.Rules.cs</c>), and reads or writes
/// through the stores of one <see cref="PermissionSession"/> (the SQL lives in <c>Stores/</c>), then maps the result.
/// The RPCs are grouped by feature: checks here, resources, grants, roles, invitations and membership beside it.
/// Checks answer about the caller's own access and need no scope (services ask them on the caller's behalf
/// whatever the key was made for); LookupResources and listings need workspaces:read; managing grants,
/// roles and invitations needs workspaces:write — each declared once, with [RequiresScope] on the method.
/// </remarks>
public sealed partial class PermissionService(PermissionDatabase database, CursorCodec cursors) : IPermissionService
{
    public const int MaxBatch = 5000;

    public async ValueTask<CheckPermissionResponse> CheckPermissionAsync(CheckPermissionRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var validator = new RequestValidator();
        var resource = ResourceOf(validator, "resource", request.Resource);
        var level = RequiredLevelOf(validator, "level", request.Level);
        ParseToken(validator, request.ConsistencyToken);
        var userId = UserOf(validator, "user_id", request.UserId, caller);
        validator.ThrowIfInvalid();

        var ct = context.CancellationToken;
        await using var db = await database.OpenAsync(ct);
        if (userId.ToString() != caller.UserId && !caller.IsPrivileged())
        {
            await RequireAsync(db, caller, resource, PermissionLevel.Owner, "checking another user's permission", ct);
        }

        var decision = (await db.Checks.EvaluateAsync([new Query(userId, resource.Type, resource.Id)], ct))[0];
        return new CheckPermissionResponse
        {
            Allowed = decision.Exists && decision.Level >= level,
            EffectiveLevel = decision.Level,
            Reason = ReasonFor(caller, decision),
            ConsistencyToken = await db.Checks.CurrentTokenAsync(ct),
        };
    }

    public async ValueTask<BatchCheckPermissionResponse> BatchCheckPermissionAsync(
        BatchCheckPermissionRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        if (request.Checks.Count is 0 or > MaxBatch)
        {
            throw new ValidationException("checks", $"must hold 1 to {MaxBatch} checks");
        }

        var validator = new RequestValidator();
        ParseToken(validator, request.ConsistencyToken);
        var queries = new Query[request.Checks.Count];
        var levels = new PermissionLevel[request.Checks.Count];
        var foreign = false;
        for (var i = 0; i < queries.Length; i++)
        {
            var item = request.Checks[i];
            var resource = ResourceOf(validator, $"checks[{i}].resource", item?.Resource);
            levels[i] = RequiredLevelOf(validator, $"checks[{i}].level", item?.Level ?? PermissionLevel.Unspecified);
            var user = UserOf(validator, $"checks[{i}].user_id", item?.UserId, caller);
            foreign |= user.ToString() != caller.UserId;
            queries[i] = new Query(user, resource.Type, resource.Id);
        }

        validator.ThrowIfInvalid();
        if (foreign && !caller.IsPrivileged())
        {
            Fail.PermissionDenied("A batch may check other users only for operators and the platform's services; " +
                "check your own permissions, or one resource you own with CheckPermission.");
        }

        var ct = context.CancellationToken;
        await using var db = await database.OpenAsync(ct);
        var decisions = await db.Checks.EvaluateAsync(queries, ct);
        var response = new BatchCheckPermissionResponse { ConsistencyToken = await db.Checks.CurrentTokenAsync(ct) };
        foreach (var (decision, level) in decisions.Zip(levels))
        {
            response.Results.Add(new CheckResult
            {
                Allowed = decision.Exists && decision.Level >= level,
                EffectiveLevel = decision.Level,
                Reason = ReasonFor(caller, decision),
            });
        }

        return response;
    }
}
