using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Common;
using V1 = PyAirtable.Contracts.Users;

namespace PyAirtable.Contracts.Users.V2;

/// <summary>
/// User profiles, version 2: the same profiles, rules and errors as <c>pyairtable.users.v1.UserService</c>, served by the
/// same implementation. What changed: ListUsers pages the way list APIs usually do (AIP-158: <c>page_size</c> and
/// <c>page_token</c> in, <c>next_page_token</c> and <c>total_size</c> out) instead of v1's nested pagination objects,
/// whose page number could only ever be 0 or 1. The other RPCs' messages have v1's fields (numbers and JSON names) in
/// v2's own messages, so a client moves by changing the package alone; profiles are v1's <c>User</c>, unchanged.
/// </summary>
[Service("pyairtable.users.v2.UserService")]
public interface IUserService
{
    /// <summary>
    /// One user. Served from the cache when warm; send the etag you hold in <c>if_none_match</c> and an
    /// unchanged profile comes back as <c>not_modified</c> without the body.
    /// </summary>
    [HttpRoute("GET", "/v2/users/{user_id}")]
    ValueTask<GetUserResponse> GetUserAsync(GetUserRequest request, CallContext context = default);

    /// <summary>Several users by id, in request order; ids that do not exist or are not visible are listed in <c>missing_ids</c>.</summary>
    [HttpRoute("POST", "/v2/users:batchGet")]
    ValueTask<GetUsersResponse> GetUsersAsync(GetUsersRequest request, CallContext context = default);

    /// <summary>Users in creation order, a page at a time; page tokens stay valid while users are added.</summary>
    [HttpRoute("GET", "/v2/users")]
    ValueTask<ListUsersResponse> ListUsersAsync(ListUsersRequest request, CallContext context = default);

    /// <summary>
    /// Changes profile fields that are set in the request. The etag must be the profile's current one
    /// (FAILED_PRECONDITION otherwise: read it again and retry).
    /// </summary>
    [HttpRoute("PATCH", "/v2/users/{user_id}")]
    ValueTask<UpdateUserResponse> UpdateUserAsync(UpdateUserRequest request, CallContext context = default);

    /// <summary>Deactivates a user: they can no longer log in and their tokens and API keys stop working.</summary>
    [HttpRoute("POST", "/v2/users/{user_id}:deactivate")]
    ValueTask<DeactivateUserResponse> DeactivateUserAsync(DeactivateUserRequest request, CallContext context = default);

    /// <summary>Creates the profile of a newly registered account. Called by the Auth service only (scope <c>users:provision</c>).</summary>
    [HttpRoute("POST", "/v2/users")]
    ValueTask<CreateUserResponse> CreateUserAsync(CreateUserRequest request, CallContext context = default);
}

/// <summary>A page of users.</summary>
[ProtoContract]
public sealed record ListUsersRequest
{
    /// <summary>Users per page: 0 means 50, larger values are capped at 500; negative is INVALID_ARGUMENT.</summary>
    [ProtoMember(1)] public int PageSize { get; init; }

    /// <summary>
    /// The <c>next_page_token</c> of the previous page; empty for the first page. Tokens are opaque, signed and bound to
    /// this list and caller: an edited or foreign one is INVALID_ARGUMENT on <c>page_token</c>.
    /// </summary>
    [ProtoMember(2)] public string PageToken { get; init; } = "";
}

/// <summary>Users in creation order.</summary>
[ProtoContract]
public sealed record ListUsersResponse
{
    /// <summary>The users of this page.</summary>
    [ProtoMember(1)] public List<V1.User> Users { get; init; } = [];

    /// <summary>The token of the next page; empty on the last page.</summary>
    [ProtoMember(2)] public string NextPageToken { get; init; } = "";

    /// <summary>How many users the whole list had when the page was read.</summary>
    [ProtoMember(3)] public long TotalSize { get; init; }
}

/// <summary>Which user to read.</summary>
[ProtoContract]
public sealed record GetUserRequest
{
    /// <summary>The user's id.</summary>
    [ProtoMember(1)] public string UserId { get; init; } = "";

    /// <summary>The etag the caller already holds; if it is still current the body is omitted.</summary>
    [ProtoMember(2)] public string IfNoneMatch { get; init; } = "";
}

/// <summary>A user, or a confirmation that the caller's copy is current.</summary>
[ProtoContract]
public sealed record GetUserResponse
{
    /// <summary>Absent when <c>not_modified</c> is true.</summary>
    [ProtoMember(1)] public V1.User? User { get; init; }

    /// <summary>The etag and how long the answer may be kept.</summary>
    [ProtoMember(2)] public CacheMetadata? Cache { get; init; }

    /// <summary>True when if_none_match matched the current etag.</summary>
    [ProtoMember(3)] public bool NotModified { get; init; }
}

/// <summary>Users to read, at most 100 ids.</summary>
[ProtoContract]
public sealed record GetUsersRequest
{
    /// <summary>The ids, at most 100; duplicates are answered once each time they appear.</summary>
    [ProtoMember(1)] public List<string> UserIds { get; init; } = [];
}

/// <summary>The users found, in request order.</summary>
[ProtoContract]
public sealed record GetUsersResponse
{
    /// <summary>The users found, in request order.</summary>
    [ProtoMember(1)] public List<V1.User> Users { get; init; } = [];

    /// <summary>Requested ids with no visible user, in request order.</summary>
    [ProtoMember(2)] public List<string> MissingIds { get; init; } = [];
}

/// <summary>Profile changes; unset fields are left as they are.</summary>
[ProtoContract]
public sealed record UpdateUserRequest
{
    /// <summary>The user to update.</summary>
    [ProtoMember(1)] public string UserId { get; init; } = "";

    /// <summary>The etag of the profile the change is based on (required).</summary>
    [ProtoMember(2)] public string Etag { get; init; } = "";

    /// <summary>1 to 100 characters.</summary>
    [ProtoMember(3)] public string? DisplayName { get; init; }

    /// <summary>An https URL of at most 2048 characters, or empty to clear.</summary>
    [ProtoMember(4)] public string? AvatarUrl { get; init; }

    /// <summary>An IANA time zone id, or empty to clear.</summary>
    [ProtoMember(5)] public string? TimeZone { get; init; }
}

/// <summary>The updated profile.</summary>
[ProtoContract]
public sealed record UpdateUserResponse
{
    /// <summary>The profile after the change.</summary>
    [ProtoMember(1)] public V1.User? User { get; init; }

    /// <summary>The new etag.</summary>
    [ProtoMember(2)] public CacheMetadata? Cache { get; init; }
}

/// <summary>The user to deactivate.</summary>
[ProtoContract]
public sealed record DeactivateUserRequest
{
    /// <summary>The user to deactivate.</summary>
    [ProtoMember(1)] public string UserId { get; init; } = "";
}

/// <summary>The deactivated profile.</summary>
[ProtoContract]
public sealed record DeactivateUserResponse
{
    /// <summary>The profile, now deactivated.</summary>
    [ProtoMember(1)] public V1.User? User { get; init; }
}

/// <summary>A profile for a new account.</summary>
[ProtoContract]
public sealed record CreateUserRequest
{
    /// <summary>The id the account was given (a UUID); creating the same id again returns the existing profile.</summary>
    [ProtoMember(1)] public string UserId { get; init; } = "";

    /// <summary>The account's e-mail address.</summary>
    [ProtoMember(2)] public string Email { get; init; } = "";

    /// <summary>The name shown to other users.</summary>
    [ProtoMember(3)] public string DisplayName { get; init; } = "";
}

/// <summary>The created profile.</summary>
[ProtoContract]
public sealed record CreateUserResponse
{
    /// <summary>The profile.</summary>
    [ProtoMember(1)] public V1.User? User { get; init; }
}
