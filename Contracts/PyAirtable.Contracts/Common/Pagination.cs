using ProtoBuf;

namespace PyAirtable.Contracts.Common;

/// <summary>
/// Which page of a list to return. Lists are paged with opaque keyset cursors: pass the
/// <c>next_cursor</c> of the previous response to get the next page. A cursor is bound to the list
/// it came from and is tamper-evident: a changed or foreign cursor is INVALID_ARGUMENT.
/// </summary>
[ProtoContract]
public sealed record PaginationRequest
{
    /// <summary>
    /// Informational page number (1-based). Pages are addressed by cursor, so without a cursor only
    /// 0 or 1 is accepted; with a cursor the page number comes from the cursor.
    /// </summary>
    [ProtoMember(1)] public int Page { get; init; }

    /// <summary>Items per page; 0 means the list's default, larger values are capped at the list's maximum.</summary>
    [ProtoMember(2)] public int PageSize { get; init; }

    /// <summary>The <c>next_cursor</c> of the previous page; absent for the first page.</summary>
    [ProtoMember(3)] public string? Cursor { get; init; }
}

/// <summary>Where a returned page sits in its list.</summary>
[ProtoContract]
public sealed record PaginationResponse
{
    /// <summary>The 1-based number of this page.</summary>
    [ProtoMember(1)] public int CurrentPage { get; init; }

    /// <summary>The page size that was applied (after defaults and caps).</summary>
    [ProtoMember(2)] public int PageSize { get; init; }

    /// <summary>The number of items in the whole list when the page was read.</summary>
    [ProtoMember(3)] public long TotalCount { get; init; }

    /// <summary>The cursor of the next page; absent on the last page.</summary>
    [ProtoMember(5)] public string? NextCursor { get; init; }

    /// <summary>True when another page follows.</summary>
    [ProtoMember(7)] public bool HasNext { get; init; }
}
