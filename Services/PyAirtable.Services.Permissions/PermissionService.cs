using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Permissions.Stores;
using static PyAirtable.Services.Permissions.PermissionRequests;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Permissions;

/// <summary>
/// pyairtable.permissions.v1.PermissionService over the <c>permissions</c> schema. Checks are computed in PostgreSQL
/// and kept in this host's <see cref="PermissionDecisionCache"/>: a write is seen by the next check on its own host at
/// once and on every other host within <c>ChangeFeed:Bound</c> (past it, checks go to PostgreSQL), and a consistency
/// token is always honoured.
/// </summary>
/// <remarks>
/// Each RPC validates the request, authorizes the caller (<c>PermissionService.Rules.cs</c>), and reads or writes
/// through the stores of one <see cref="PermissionSession"/> (the SQL lives in <c>Stores/</c>), then maps the result.
/// The RPCs are grouped by feature: checks here, resources, grants, roles, invitations and membership beside it.
/// Checks answer about the caller's own access and need no scope (services ask them on the caller's behalf
/// whatever the key was made for); LookupResources and listings need workspaces:read; managing grants,
/// roles and invitations needs workspaces:write — each declared once, with [RequiresScope] on the method.
/// </remarks>
public sealed partial class PermissionService(PermissionDatabase database, CursorCodec cursors, PermissionDecisionCache decisions)
    : IPermissionService
{
    public const int MaxBatch = 5000;

    public async ValueTask<CheckPermissionResponse> CheckPermissionAsync(CheckPermissionRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var validator = new RequestValidator();
        var resource = ResourceOf(validator, "resource", request.Resource);
        var level = RequiredLevelOf(validator, "level", request.Level);
        var tokenRevision = ParseToken(validator, request.ConsistencyToken);
        var userId = UserOf(validator, "user_id", request.UserId, caller);
        validator.ThrowIfInvalid();

        var query = new Query(userId, resource.Type, resource.Id);
        var own = userId.ToString() == caller.UserId || caller.IsPrivileged();
        if (!own || !decisions.TryGet(query, tokenRevision, out var decision, out var token))
        {
            var ct = context.CancellationToken;
            var generation = decisions.Generation;
            await using var db = await database.OpenAsync(ct);
            if (!own)
            {
                await RequireAsync(db, caller, resource, PermissionLevel.Owner, "checking another user's permission", ct);
            }

            // The token first: the decision below then reflects at least every write committed before it was read.
            token = await db.Checks.CurrentTokenAsync(ct);
            decision = (await db.Checks.EvaluateAsync([query], ct))[0];
            decisions.Put(query, decision, token, generation);
        }

        return new CheckPermissionResponse
        {
            Allowed = decision.Exists && decision.Level >= level,
            EffectiveLevel = decision.Level,
            Reason = ReasonFor(caller, decision),
            ConsistencyToken = token,
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
        var tokenRevision = ParseToken(validator, request.ConsistencyToken);
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

        var (results, token) = await DecideAsync(queries, tokenRevision, context.CancellationToken);
        var response = new BatchCheckPermissionResponse { ConsistencyToken = token };
        foreach (var (decision, level) in results.Zip(levels))
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

    /// <summary>
    /// Decisions from this host's cache where it may answer, the rest computed in PostgreSQL in one statement. The token is
    /// the oldest of those the decisions were computed with: the batch reflects at least every write up to it.
    /// </summary>
    private async Task<(Decision[] Decisions, string Token)> DecideAsync(Query[] queries, long? tokenRevision, CancellationToken ct)
    {
        var results = new Decision[queries.Length];
        var missing = new List<int>();
        string? oldest = null;
        for (var i = 0; i < queries.Length; i++)
        {
            if (decisions.TryGet(queries[i], tokenRevision, out results[i], out var token))
            {
                oldest = Older(oldest, token);
            }
            else
            {
                missing.Add(i);
            }
        }

        if (missing.Count > 0)
        {
            var generation = decisions.Generation;
            await using var db = await database.OpenAsync(ct);
            var token = await db.Checks.CurrentTokenAsync(ct);
            var computed = await db.Checks.EvaluateAsync(missing.Select(i => queries[i]).ToArray(), ct);
            for (var j = 0; j < missing.Count; j++)
            {
                results[missing[j]] = computed[j];
                decisions.Put(queries[missing[j]], computed[j], token, generation);
            }

            oldest = Older(oldest, token);
        }

        return (results, oldest!);
    }

    private static string Older(string? a, string b) =>
        a is null || long.Parse(b.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture) < long.Parse(a.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture) ? b : a;
}
