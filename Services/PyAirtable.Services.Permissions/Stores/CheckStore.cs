using System.Globalization;
using Dapper;
using PyAirtable.Contracts.Permissions;

namespace PyAirtable.Services.Permissions.Stores;

/// <summary>One question: a user's level on a resource.</summary>
internal readonly record struct Query(Guid UserId, ResourceType Type, Guid ResourceId);

/// <summary>The answer: the effective level and where it comes from.</summary>
internal readonly record struct Decision(bool Exists, PermissionLevel Level, string Reason);

/// <summary>
/// Checks: effective levels computed in PostgreSQL, many at once, and the revisions that consistency tokens name.
/// One statement walks each resource's chain of ancestors (recursive CTE over permissions.resources). An owner of
/// the resource or of any enclosing one is owner (a more specific grant cannot lock an owner out of what they own);
/// otherwise the nearest grant of the user on the chain decides; otherwise the best level the user's roles in that
/// workspace give the resource's type.
/// </summary>
internal sealed class CheckStore(PermissionSession session)
{
    private const string EvaluateSql = """
        WITH RECURSIVE req AS (
            SELECT r.user_id, r.type, r.id, r.ord
              FROM unnest(@users::uuid[], @types::smallint[], @ids::uuid[]) WITH ORDINALITY AS r(user_id, type, id, ord)
        ), chain AS (
            SELECT r.ord, r.user_id, res.type, res.id, res.parent_type, res.parent_id, res.workspace_id, 0 AS depth, r.type AS req_type
              FROM req r JOIN permissions.resources res ON res.type = r.type AND res.id = r.id
            UNION ALL
            SELECT c.ord, c.user_id, p.type, p.id, p.parent_type, p.parent_id, p.workspace_id, c.depth + 1, c.req_type
              FROM chain c JOIN permissions.resources p ON p.type = c.parent_type AND p.id = c.parent_id
        ), matched AS (
            SELECT c.ord, c.depth, g.level, c.type, c.id
              FROM chain c
              JOIN permissions.grants g ON g.resource_type = c.type AND g.resource_id = c.id AND g.user_id = c.user_id
        ), nearest AS (
            SELECT DISTINCT ON (ord) ord, level, type AS grant_type, id AS grant_id FROM matched ORDER BY ord, depth
        ), owns AS (
            SELECT DISTINCT ord FROM matched WHERE level = @owner
        ), roots AS (
            SELECT ord FROM chain WHERE depth = 0
        ), by_role AS (
            SELECT DISTINCT ON (c.ord) c.ord, rl.level, ro.name
              FROM chain c
              JOIN permissions.role_assignments ra ON ra.user_id = c.user_id AND ra.workspace_id = c.workspace_id
              JOIN permissions.roles ro ON ro.id = ra.role_id
              JOIN permissions.role_levels rl ON rl.role_id = ra.role_id AND rl.resource_type = c.req_type
             WHERE c.depth = 0
             ORDER BY c.ord, rl.level DESC, ro.name
        )
        SELECT r.ord AS Ord,
               rt.ord IS NOT NULL AS ResourceExists,
               o.ord IS NOT NULL AS OwnsChain,
               n.level AS GrantLevel, n.grant_type AS GrantType, n.grant_id AS GrantId,
               b.level AS RoleLevel, b.name AS RoleName
          FROM req r
          LEFT JOIN roots rt ON rt.ord = r.ord
          LEFT JOIN owns o ON o.ord = r.ord
          LEFT JOIN nearest n ON n.ord = r.ord
          LEFT JOIN by_role b ON b.ord = r.ord
         ORDER BY r.ord
        """;

    /// <summary>The decisions for <paramref name="queries"/>, in their order.</summary>
    public async Task<Decision[]> EvaluateAsync(IReadOnlyList<Query> queries, CancellationToken ct)
    {
        var decisions = new Decision[queries.Count];
        if (queries.Count == 0)
        {
            return decisions;
        }

        var rows = await session.Connection.QueryAsync<Row>(new CommandDefinition(EvaluateSql, new
        {
            users = queries.Select(q => q.UserId).ToArray(),
            types = queries.Select(q => (short)q.Type).ToArray(),
            ids = queries.Select(q => q.ResourceId).ToArray(),
            owner = (short)PermissionLevel.Owner,
        }, session.Transaction, cancellationToken: ct));
        foreach (var row in rows)
        {
            decisions[row.Ord - 1] = !row.ResourceExists
                ? new Decision(false, PermissionLevel.None, "no such resource")
                : row.OwnsChain && row.GrantLevel != (short)PermissionLevel.Owner
                    ? new Decision(true, PermissionLevel.Owner, "owner of an enclosing resource")
                : row.GrantLevel is { } level
                    ? new Decision(true, (PermissionLevel)level, $"grant on {Names.Of((ResourceType)row.GrantType!.Value)} {row.GrantId}")
                    : row.RoleLevel is { } roleLevel
                        ? new Decision(true, (PermissionLevel)roleLevel, $"role {row.RoleName}")
                        : new Decision(true, PermissionLevel.None, "no grant");
        }

        return decisions;
    }

    /// <summary>Takes the next revision: every write does, and answers with it as its consistency token.</summary>
    public async Task<string> NextTokenAsync(CancellationToken ct) =>
        session.TakenToken = Token(await session.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT nextval('permissions.revision')", transaction: session.Transaction, cancellationToken: ct)));

    /// <summary>The latest revision taken (r0 before any write): what a check has seen.</summary>
    public async Task<string> CurrentTokenAsync(CancellationToken ct) =>
        Token(await session.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM permissions.revision",
            transaction: session.Transaction, cancellationToken: ct)));

    private static string Token(long revision) => "r" + revision.ToString(CultureInfo.InvariantCulture);

    private sealed record Row
    {
        public long Ord { get; init; }
        public bool ResourceExists { get; init; }
        public bool OwnsChain { get; init; }
        public short? GrantLevel { get; init; }
        public short? GrantType { get; init; }
        public Guid? GrantId { get; init; }
        public short? RoleLevel { get; init; }
        public string? RoleName { get; init; }
    }
}
