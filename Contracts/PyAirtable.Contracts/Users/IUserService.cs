using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Contracts.Common;

namespace PyAirtable.Contracts.Users;

/// <summary>
/// User profiles. Every RPC needs an authenticated caller. A user reads and updates their own profile and
/// reads the public profile (no e-mail address or time zone) of people they share a workspace with; the
/// platform <c>admin</c> role reads and manages all. Profiles one may not read are NOT_FOUND. Deprecated: use
/// <c>pyairtable.users.v2.UserService</c> (the same profiles; ListUsers pages with page tokens).
/// </summary>
[Service("pyairtable.users.v1.UserService")]
[ApiDeprecated("pyairtable.users.v2.UserService", Since = "2026-11-29", Sunset = "2027-06-30")]
public interface IUserService
{
    /// <summary>
    /// One user. Served from the cache when warm; send the etag you hold in <c>if_none_match</c> and an
    /// unchanged profile comes back as <c>not_modified</c> without the body.
    /// </summary>
    [HttpRoute("GET", "/v1/users/{user_id}")]
    ValueTask<GetUserResponse> GetUserAsync(GetUserRequest request, CallContext context = default);

    /// <summary>Several users by id, in request order; ids that do not exist or are not visible are listed in <c>missing_ids</c>.</summary>
    [HttpRoute("POST", "/v1/users:batchGet")]
    ValueTask<GetUsersResponse> GetUsersAsync(GetUsersRequest request, CallContext context = default);

    /// <summary>Users in creation order, a page at a time; cursors stay valid while users are added.</summary>
    [HttpRoute("GET", "/v1/users")]
    ValueTask<ListUsersResponse> ListUsersAsync(ListUsersRequest request, CallContext context = default);

    /// <summary>
    /// Changes profile fields that are set in the request. The etag must be the profile's current one
    /// (FAILED_PRECONDITION otherwise: read it again and retry).
    /// </summary>
    [HttpRoute("PATCH", "/v1/users/{user_id}")]
    ValueTask<UpdateUserResponse> UpdateUserAsync(UpdateUserRequest request, CallContext context = default);

    /// <summary>Deactivates a user: they can no longer log in and their tokens and API keys stop working.</summary>
    [HttpRoute("POST", "/v1/users/{user_id}:deactivate")]
    ValueTask<DeactivateUserResponse> DeactivateUserAsync(DeactivateUserRequest request, CallContext context = default);

    /// <summary>Creates the profile of a newly registered account. Called by the Auth service only (scope <c>users:provision</c>).</summary>
    [HttpRoute("POST", "/v1/users")]
    ValueTask<CreateUserResponse> CreateUserAsync(CreateUserRequest request, CallContext context = default);
}

/// <summary>Whether a user can use the platform.</summary>
[ProtoContract(Name = "UserStatus")]
public enum UserStatus
{
    /// <summary>Never set by the platform.</summary>
    [ProtoEnum(Name = "USER_STATUS_UNSPECIFIED")] Unspecified = 0,
    /// <summary>Can log in and call the platform.</summary>
    [ProtoEnum(Name = "USER_STATUS_ACTIVE")] Active = 1,
    /// <summary>Cannot log in; every credential of the user is refused.</summary>
    [ProtoEnum(Name = "USER_STATUS_DEACTIVATED")] Deactivated = 2,
}

/// <summary>A user's profile.</summary>
[ProtoContract]
public sealed record User
{
    /// <summary>The user's id (a UUID).</summary>
    [ProtoMember(1)] public string Id { get; init; } = "";

    /// <summary>The login e-mail address (lower case).</summary>
    [ProtoMember(2)] public string Email { get; init; } = "";

    /// <summary>The name shown to other users.</summary>
    [ProtoMember(3)] public string DisplayName { get; init; } = "";

    /// <summary>An https URL of the user's picture, or empty.</summary>
    [ProtoMember(4)] public string AvatarUrl { get; init; } = "";

    /// <summary>An IANA time zone such as <c>Europe/Paris</c>, or empty.</summary>
    [ProtoMember(5)] public string TimeZone { get; init; } = "";

    /// <summary>Whether the user can use the platform.</summary>
    [ProtoMember(6)] public UserStatus Status { get; init; }

    /// <summary>When the user registered (UTC).</summary>
    [ProtoMember(7)] public DateTime? CreatedAt { get; init; }

    /// <summary>When the profile last changed (UTC).</summary>
    [ProtoMember(8)] public DateTime? UpdatedAt { get; init; }

    /// <summary>The profile's version tag, for if_none_match and UpdateUser.</summary>
    [ProtoMember(9)] public string Etag { get; init; } = "";
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
    [ProtoMember(1)] public User? User { get; init; }

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
    [ProtoMember(1)] public List<User> Users { get; init; } = [];

    /// <summary>Requested ids with no visible user, in request order.</summary>
    [ProtoMember(2)] public List<string> MissingIds { get; init; } = [];
}

/// <summary>A page of users.</summary>
[ProtoContract]
public sealed record ListUsersRequest
{
    /// <summary>page_size defaults to 50 and is capped at 500.</summary>
    [ProtoMember(1)] public PaginationRequest? Pagination { get; init; }
}

/// <summary>Users in creation order.</summary>
[ProtoContract]
public sealed record ListUsersResponse
{
    /// <summary>The users of this page.</summary>
    [ProtoMember(1)] public List<User> Users { get; init; } = [];

    /// <summary>Where the page is and how to get the next one.</summary>
    [ProtoMember(2)] public PaginationResponse? Pagination { get; init; }
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
    [ProtoMember(1)] public User? User { get; init; }

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
    [ProtoMember(1)] public User? User { get; init; }
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
    [ProtoMember(1)] public User? User { get; init; }
}
