using System.Globalization;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Users;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Infrastructure.Requests;
using PyAirtable.Services.Users.Stores;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Users;

/// <summary>Profiles: reading one (through the cache), several or a page of them, and editing one's own.</summary>
public sealed partial class UserService
{
    private const int MaxBatch = 100;
    private const int MaxUrlLength = 2048;

    [RequiresScope(Scopes.UsersRead)]
    public async ValueTask<GetUserResponse> GetUserAsync(GetUserRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var id = Validation.Id("user_id", request.UserId);
        if ((request.IfNoneMatch?.Length ?? 0) > 64)
        {
            throw new ValidationException("if_none_match", "must be an etag returned by this service");
        }

        // One's own profile (the hot read) needs no question to the Permission service.
        if (!ReadsOwn(caller, id) && (await CanReadAsync(context, caller, [id])).Count == 0)
        {
            Fail.NotFound("user", request.UserId); // a profile you may not read does not exist for you
        }

        var noCache = context.GetRequestHeader(CacheControlHeader)?.Contains("no-cache", StringComparison.OrdinalIgnoreCase) == true;
        if (!noCache && _cache.TryGetHeld(id, out var held))
        {
            return Answer(caller, request, held); // warm: no network, no task, the contract made once per version
        }

        var ct = context.CancellationToken;
        var generation = _cache.Generation;
        var row = noCache ? null : await _cache.ReadAsync(id);
        if (row is null)
        {
            await using var db = await UserSession.OpenAsync(dataSource, ct);
            row = await db.Users.FindAsync(id, ct);
            if (row is null)
            {
                Fail.NotFound("user", request.UserId);
            }

            await _cache.WriteAsync(row, generation);
        }

        return Answer(caller, request, new HeldProfile(row));
    }

    private GetUserResponse Answer(UserContext caller, GetUserRequest request, HeldProfile profile)
    {
        var cacheMetadata = CacheMetadataOf(profile.Etag);
        return request.IfNoneMatch == profile.Etag
            ? new GetUserResponse { NotModified = true, Cache = cacheMetadata }
            : new GetUserResponse { User = VisibleTo(caller, profile.Contract), Cache = cacheMetadata };
    }

    [RequiresScope(Scopes.UsersRead)]
    public async ValueTask<GetUsersResponse> GetUsersAsync(GetUsersRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        if (request.UserIds.Count is 0 or > MaxBatch)
        {
            throw new ValidationException("user_ids", $"must hold 1 to {MaxBatch} ids");
        }

        var validator = new RequestValidator();
        var ids = validator.Ids("user_ids", request.UserIds);

        validator.ThrowIfInvalid();
        var visible = (await CanReadAsync(context, caller, ids.Distinct().ToList())).ToArray();
        var found = new Dictionary<Guid, UserRow>();
        if (visible.Length > 0)
        {
            await using var db = await UserSession.OpenAsync(dataSource, context.CancellationToken);
            foreach (var row in await db.Users.FindManyAsync(visible, context.CancellationToken))
            {
                found[row.Id] = row;
            }
        }

        var response = new GetUsersResponse();
        for (var i = 0; i < ids.Length; i++)
        {
            if (found.TryGetValue(ids[i], out var row))
            {
                response.Users.Add(VisibleTo(caller, row.ToContract()));
            }
            else
            {
                response.MissingIds.Add(request.UserIds[i]);
            }
        }

        return response;
    }

    [RequiresScope(Scopes.UsersRead)]
    public async ValueTask<ListUsersResponse> ListUsersAsync(ListUsersRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        // Until workspace permissions exist, a user lists only themself; operators list everybody.
        Guid? only = caller.IsPrivileged() ? null : Guid.Parse(caller.UserId);
        var scope = only is null ? "users.list:all" : "users.list:self:" + only;
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 500);
        long? after = page.After is { Count: 1 } ? long.Parse(page.After[0], CultureInfo.InvariantCulture) : null;
        var ct = context.CancellationToken;
        await using var db = await UserSession.OpenAsync(dataSource, ct);
        var rows = await db.Users.ListAsync(only, after, page.PageSize + 1, ct);
        var total = await db.Users.CountAsync(only, ct);
        var (items, pagination) = page.Complete(rows, total, r => [r.Seq.ToString(CultureInfo.InvariantCulture)], cursors, scope);
        return new ListUsersResponse { Users = items.Select(r => r.ToContract()).ToList(), Pagination = pagination };
    }

    [RequiresScope(Scopes.UsersWrite)]
    public async ValueTask<UpdateUserResponse> UpdateUserAsync(UpdateUserRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var id = Validation.Id("user_id", request.UserId);
        var validator = new RequestValidator();
        var version = ParseEtag(request.Etag);
        if (version is null)
        {
            validator.Add("etag", "is required: send the etag of the profile you are changing");
        }

        if (request.DisplayName is not null)
        {
            validator.Name("display_name", request.DisplayName);
        }

        if (request.AvatarUrl is { Length: > 0 } url)
        {
            validator.PublicHttpsUrl("avatar_url", url, MaxUrlLength);
        }

        if (request.TimeZone is { Length: > 0 } zone && (zone.Length > 64 || !TimeZoneInfo.TryFindSystemTimeZoneById(zone, out _)))
        {
            validator.Add("time_zone", "must be an IANA time zone id such as Europe/Paris");
        }

        if (request.DisplayName is null && request.AvatarUrl is null && request.TimeZone is null)
        {
            validator.Add("display_name", "set at least one of display_name, avatar_url and time_zone");
        }

        validator.ThrowIfInvalid();
        EnsureCanWrite(caller, id);
        var ct = context.CancellationToken;
        await using var db = await UserSession.BeginAsync(dataSource, ct);
        var row = await db.Users.UpdateAsync(id, version, request.DisplayName?.Trim(), request.AvatarUrl, request.TimeZone, ct);
        if (row is null)
        {
            var current = await db.Users.VersionOfAsync(id, ct);
            if (current is null)
            {
                Fail.NotFound("user", request.UserId);
            }

            Fail.FailedPrecondition("The profile changed since the etag was read; read it again and retry.",
                new Dictionary<string, string> { ["current_etag"] = UserRow.EtagOf(current.Value) });
        }

        var user = row.ToContract();
        await Outbox.EnqueueAsync(db.WriteTransaction, new UserUpdated
        {
            UserId = user.Id, DisplayName = row.DisplayName, AvatarUrl = row.AvatarUrl, TimeZone = row.TimeZone, Version = row.Version,
        }, EventOrigin.Of<IUserService>(context), ct);
        await db.CommitAsync(ct);
        await _cache.WriteAsync(row, _cache.Generation, changed: true);
        return new UpdateUserResponse { User = user, Cache = CacheMetadataOf(row.Etag) };
    }
}
