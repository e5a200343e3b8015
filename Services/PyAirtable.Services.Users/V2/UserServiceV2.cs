using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using CallContext = ProtoBuf.Grpc.CallContext;
using V1 = PyAirtable.Contracts.Users;
using UsersV2 = PyAirtable.Contracts.Users.V2;

namespace PyAirtable.Services.Users.V2;

/// <summary>
/// pyairtable.users.v2.UserService: an adapter onto the v1 <see cref="UserService"/>, not a second implementation. Each
/// RPC maps its request to v1's, hands the caller's own call context to the v1 method (validation, authorization, cache,
/// SQL and errors are that method's) and maps the answer back; only ListUsers changes shape, between v2's page tokens
/// and v1's pagination objects. Scopes are declared here too: the gateway reads them from the implementing method.
/// </summary>
public sealed class UserServiceV2(UserService v1) : UsersV2.IUserService
{
    /// <summary>v1's names of the paging fields → v2's, so a refused page token is reported on the field the caller sent.</summary>
    private static readonly Dictionary<string, string> PagingFields = new(StringComparer.Ordinal)
    {
        ["pagination.cursor"] = "page_token",
        ["pagination.page_size"] = "page_size",
    };

    [RequiresScope(Scopes.UsersRead)]
    public async ValueTask<UsersV2.GetUserResponse> GetUserAsync(UsersV2.GetUserRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var answer = await v1.GetUserAsync(new V1.GetUserRequest { UserId = request.UserId, IfNoneMatch = request.IfNoneMatch }, context);
        return new UsersV2.GetUserResponse { User = answer.User, Cache = answer.Cache, NotModified = answer.NotModified };
    }

    [RequiresScope(Scopes.UsersRead)]
    public async ValueTask<UsersV2.GetUsersResponse> GetUsersAsync(UsersV2.GetUsersRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var answer = await v1.GetUsersAsync(new V1.GetUsersRequest { UserIds = request.UserIds }, context);
        return new UsersV2.GetUsersResponse { Users = answer.Users, MissingIds = answer.MissingIds };
    }

    [RequiresScope(Scopes.UsersRead)]
    public async ValueTask<UsersV2.ListUsersResponse> ListUsersAsync(UsersV2.ListUsersRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var pagination = new PaginationRequest
        {
            PageSize = request.PageSize,
            Cursor = string.IsNullOrEmpty(request.PageToken) ? null : request.PageToken,
        };
        V1.ListUsersResponse page;
        try
        {
            page = await v1.ListUsersAsync(new V1.ListUsersRequest { Pagination = pagination }, context);
        }
        catch (ValidationException invalid) when (invalid.Violations.Any(v => PagingFields.ContainsKey(v.Field)))
        {
            throw new ValidationException(invalid.Violations
                .Select(v => PagingFields.TryGetValue(v.Field, out var field) ? v with { Field = field } : v).ToList());
        }

        return new UsersV2.ListUsersResponse
        {
            Users = page.Users,
            NextPageToken = page.Pagination?.NextCursor ?? "",
            TotalSize = page.Pagination?.TotalCount ?? 0,
        };
    }

    [RequiresScope(Scopes.UsersWrite)]
    public async ValueTask<UsersV2.UpdateUserResponse> UpdateUserAsync(UsersV2.UpdateUserRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var answer = await v1.UpdateUserAsync(new V1.UpdateUserRequest
        {
            UserId = request.UserId,
            Etag = request.Etag,
            DisplayName = request.DisplayName,
            AvatarUrl = request.AvatarUrl,
            TimeZone = request.TimeZone,
        }, context);
        return new UsersV2.UpdateUserResponse { User = answer.User, Cache = answer.Cache };
    }

    [RequiresScope(Scopes.UsersWrite)]
    public async ValueTask<UsersV2.DeactivateUserResponse> DeactivateUserAsync(UsersV2.DeactivateUserRequest request,
        CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var answer = await v1.DeactivateUserAsync(new V1.DeactivateUserRequest { UserId = request.UserId }, context);
        return new UsersV2.DeactivateUserResponse { User = answer.User };
    }

    public async ValueTask<UsersV2.CreateUserResponse> CreateUserAsync(UsersV2.CreateUserRequest request, CallContext context = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var answer = await v1.CreateUserAsync(
            new V1.CreateUserRequest { UserId = request.UserId, Email = request.Email, DisplayName = request.DisplayName }, context);
        return new UsersV2.CreateUserResponse { User = answer.User };
    }
}
