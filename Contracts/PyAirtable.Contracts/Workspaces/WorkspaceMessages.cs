using ProtoBuf;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;

namespace PyAirtable.Contracts.Workspaces;

// The requests and responses of creating, reading, listing, updating and deleting workspaces.

/// <summary>A new workspace.</summary>
[ProtoContract]
public sealed record CreateWorkspaceRequest
{
    /// <summary>1 to 100 characters.</summary>
    [ProtoMember(1)] public string Name { get; init; } = "";

    /// <summary>At most 1,000 characters.</summary>
    [ProtoMember(2)] public string Description { get; init; } = "";
}

/// <summary>The created workspace.</summary>
[ProtoContract]
public sealed record CreateWorkspaceResponse
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public Workspace? Workspace { get; init; }

    /// <summary>Pass to permission checks to see the new workspace.</summary>
    [ProtoMember(2)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>Which workspace.</summary>
[ProtoContract]
public sealed record GetWorkspaceRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";
}

/// <summary>The workspace.</summary>
[ProtoContract]
public sealed record GetWorkspaceResponse
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public Workspace? Workspace { get; init; }
}

/// <summary>A page of workspaces.</summary>
[ProtoContract]
public sealed record ListWorkspacesRequest
{
    /// <summary>page_size defaults to 50 and is capped at 500.</summary>
    [ProtoMember(1)] public PaginationRequest? Pagination { get; init; }
}

/// <summary>Workspaces the caller can read.</summary>
[ProtoContract]
public sealed record ListWorkspacesResponse
{
    /// <summary>The workspaces of this page.</summary>
    [ProtoMember(1)] public List<Workspace> Workspaces { get; init; } = [];

    /// <summary>Where the page is and how to get the next one.</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
}

/// <summary>Changes; unset fields stay.</summary>
[ProtoContract]
public sealed record UpdateWorkspaceRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>A new name.</summary>
    [ProtoMember(2)] public string? Name { get; init; }

    /// <summary>A new description.</summary>
    [ProtoMember(3)] public string? Description { get; init; }
}

/// <summary>The updated workspace.</summary>
[ProtoContract]
public sealed record UpdateWorkspaceResponse
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public Workspace? Workspace { get; init; }
}

/// <summary>Which workspace.</summary>
[ProtoContract]
public sealed record DeleteWorkspaceRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";
}

/// <summary>Gone.</summary>
[ProtoContract]
public sealed record DeleteWorkspaceResponse
{
    /// <summary>Pass to permission checks to see the deletion.</summary>
    [ProtoMember(1)] public string ConsistencyToken { get; init; } = "";
}
