using ProtoBuf;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;

namespace PyAirtable.Contracts.Workspaces;

// The requests and responses of bases: creating, reading, listing, renaming and deleting them.

/// <summary>A new base.</summary>
[ProtoContract]
public sealed record CreateBaseRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>1 to 100 characters.</summary>
    [ProtoMember(2)] public string Name { get; init; } = "";
}

/// <summary>The created base.</summary>
[ProtoContract]
public sealed record CreateBaseResponse
{
    /// <summary>The base.</summary>
    [ProtoMember(1)] public Base? Base { get; init; }

    /// <summary>Pass to permission checks to see the new base.</summary>
    [ProtoMember(2)] public string ConsistencyToken { get; init; } = "";
}

/// <summary>Which base.</summary>
[ProtoContract]
public sealed record GetBaseRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string BaseId { get; init; } = "";
}

/// <summary>The base.</summary>
[ProtoContract]
public sealed record GetBaseResponse
{
    /// <summary>The base.</summary>
    [ProtoMember(1)] public Base? Base { get; init; }
}

/// <summary>Which workspace's bases.</summary>
[ProtoContract]
public sealed record ListBasesRequest
{
    /// <summary>The workspace.</summary>
    [ProtoMember(1)] public string WorkspaceId { get; init; } = "";

    /// <summary>page_size defaults to 50 and is capped at 500.</summary>
    [ProtoMember(2)] public PaginationRequest? Pagination { get; init; }
}

/// <summary>A page of bases.</summary>
[ProtoContract]
public sealed record ListBasesResponse
{
    /// <summary>The bases of this page.</summary>
    [ProtoMember(1)] public List<Base> Bases { get; init; } = [];

    /// <summary>Where the page is and how to get the next one (total_count counts the bases the caller can read).</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
}

/// <summary>A new name.</summary>
[ProtoContract]
public sealed record RenameBaseRequest
{
    /// <summary>The base.</summary>
    [ProtoMember(1)] public string BaseId { get; init; } = "";

    /// <summary>1 to 100 characters.</summary>
    [ProtoMember(2)] public string Name { get; init; } = "";
}

/// <summary>The renamed base.</summary>
[ProtoContract]
public sealed record RenameBaseResponse
{
    /// <summary>The base.</summary>
    [ProtoMember(1)] public Base? Base { get; init; }
}

/// <summary>Which base.</summary>
[ProtoContract]
public sealed record DeleteBaseRequest
{
    /// <summary>Its id.</summary>
    [ProtoMember(1)] public string BaseId { get; init; } = "";
}

/// <summary>Gone.</summary>
[ProtoContract]
public sealed record DeleteBaseResponse
{
    /// <summary>Pass to permission checks to see the deletion.</summary>
    [ProtoMember(1)] public string ConsistencyToken { get; init; } = "";
}
