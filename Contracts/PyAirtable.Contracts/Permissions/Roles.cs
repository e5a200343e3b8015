using ProtoBuf;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Contracts.Permissions;

/// <summary>A level a role gives on every resource of a type in its workspace.</summary>
[ProtoContract]
public sealed record RoleLevel
{
    /// <summary>The kind of resource.</summary>
    [ProtoMember(1)] public ResourceType Type { get; init; }

    /// <summary>The level.</summary>
    [ProtoMember(2)] public PermissionLevel Level { get; init; }
}

/// <summary>A named set of permissions, scoped to a workspace.</summary>
[ProtoContract]
public sealed record Role
{
    /// <summary>The role's id.</summary>
    [ProtoMember(1)] public string Id { get; init; } = "";

    /// <summary>The workspace the role applies in.</summary>
    [ProtoMember(2)] public string WorkspaceId { get; init; } = "";

    /// <summary>Unique in its workspace; 1 to 100 characters.</summary>
    [ProtoMember(3)] public string Name { get; init; } = "";

    /// <summary>At most one level per resource type.</summary>
    [ProtoMember(4)] public List<RoleLevel> Permissions { get; init; } = [];

    /// <summary>When (UTC).</summary>
    [ProtoMember(5)] public DateTime? CreatedAt { get; init; }
}

/// <summary>A new role.</summary>
[ProtoContract]
public sealed record CreateRoleRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>The name.</summary>
    [ProtoMember(2)] public string Name { get; init; } = "";

    /// <summary>What it gives (owner cannot be given by a role).</summary>
    [ProtoMember(3)] public List<RoleLevel> Permissions { get; init; } = [];
}

/// <summary>The created role.</summary>
[ProtoContract]
public sealed record CreateRoleResponse
{
    /// <summary>The role.</summary>
    [ProtoMember(1)] public Role? Role { get; init; }

    /// <summary>The state after the write.</summary>
    [ProtoMember(2)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>Changes to a role.</summary>
[ProtoContract]
public sealed record UpdateRoleRequest
{
    /// <summary>The role.</summary>
    [ProtoMember(1)] public string RoleId { get; init; } = "";

    /// <summary>A new name, if set.</summary>
    [ProtoMember(2)] public string? Name { get; init; }

    /// <summary>The new permissions (replacing the old ones) when replace_permissions is true.</summary>
    [ProtoMember(3)] public List<RoleLevel> Permissions { get; init; } = [];

    /// <summary>Whether permissions replaces the role's permissions.</summary>
    [ProtoMember(4)] public bool ReplacePermissions { get; init; }
}

/// <summary>The updated role.</summary>
[ProtoContract]
public sealed record UpdateRoleResponse
{
    /// <summary>The role.</summary>
    [ProtoMember(1)] public Role? Role { get; init; }

    /// <summary>The state after the write.</summary>
    [ProtoMember(2)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>A role to give.</summary>
[ProtoContract]
public sealed record AssignRoleRequest
{
    /// <summary>The role.</summary>
    [ProtoMember(1)] public string RoleId { get; init; } = "";

    /// <summary>The user.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";
}

/// <summary>The user holds the role.</summary>
[ProtoContract]
public sealed record AssignRoleResponse
{
    /// <summary>The state after the write.</summary>
    [ProtoMember(1)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>A role to take away.</summary>
[ProtoContract]
public sealed record UnassignRoleRequest
{
    /// <summary>The role.</summary>
    [ProtoMember(1)] public string RoleId { get; init; } = "";

    /// <summary>The user.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";
}

/// <summary>The user no longer holds the role.</summary>
[ProtoContract]
public sealed record UnassignRoleResponse
{
    /// <summary>The state after the write.</summary>
    [ProtoMember(1)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>Which workspace's roles.</summary>
[ProtoContract]
public sealed record ListRolesRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>page_size defaults to 50 and is capped at 500.</summary>
    [ProtoMember(2)] public PaginationRequest? Pagination { get; init; }
}

/// <summary>A page of roles, by name.</summary>
[ProtoContract]
public sealed record ListRolesResponse
{
    /// <summary>The roles of this page.</summary>
    [ProtoMember(1)] public List<Role> Roles { get; init; } = [];

    /// <summary>Where the page is and how to get the next one.</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
}
