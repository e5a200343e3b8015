using System.Globalization;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Permissions.Stores;

namespace PyAirtable.Services.Permissions;

/// <summary>Reading the fields of Permission requests: each helper records a violation and returns a value to carry on with.</summary>
internal static class PermissionRequests
{
    public static ResourceKey ResourceOf(RequestValidator validator, string field, ResourceRef? resource)
    {
        if (resource is null)
        {
            validator.Add(field, "is required");
            return default;
        }

        if (resource.Type == ResourceType.Unspecified || !Enum.IsDefined(resource.Type))
        {
            validator.Add(field + ".type", "must be a resource type");
        }

        return new ResourceKey(resource.Type, validator.Id(field + ".id", resource.Id));
    }

    public static PermissionLevel LevelOf(RequestValidator validator, string field, PermissionLevel level)
    {
        if (level is < PermissionLevel.None or > PermissionLevel.Owner)
        {
            validator.Add(field, "must be a permission level (none, read, comment, edit, create or owner)");
        }

        return level;
    }

    /// <summary>A level a check asks for: read or more (asking for "at least none" would only tell whether an id exists).</summary>
    public static PermissionLevel RequiredLevelOf(RequestValidator validator, string field, PermissionLevel level)
    {
        if (level is < PermissionLevel.Read or > PermissionLevel.Owner)
        {
            validator.Add(field, "must be read, comment, edit, create or owner");
        }

        return level;
    }

    /// <summary>The user a request names; with none named, the calling user (when <paramref name="caller"/> is given).</summary>
    public static Guid UserOf(RequestValidator validator, string field, string? userId, UserContext? caller)
    {
        if (string.IsNullOrEmpty(userId) && caller is not null)
        {
            if (Guid.TryParse(caller.UserId, out var self))
            {
                return self;
            }

            validator.Add(field, "is required when the caller is not a user");
            return Guid.Empty;
        }

        return validator.Id(field, userId);
    }

    public static long? ParseToken(RequestValidator validator, string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        if (token.Length > 24 || token[0] != 'r'
            || !long.TryParse(token.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var revision))
        {
            validator.Add("consistency_token", "must be a token returned by a write of this service");
            return null;
        }

        return revision;
    }

    /// <summary>Where a resource may sit in the tree.</summary>
    public static bool AllowedParent(ResourceType type, ResourceType parent) => type switch
    {
        ResourceType.Base => parent == ResourceType.Workspace,
        ResourceType.Table => parent == ResourceType.Base,
        ResourceType.File or ResourceType.Webhook => parent is ResourceType.Workspace or ResourceType.Base or ResourceType.Table,
        _ => false,
    };

    public static List<RoleLevel> RoleLevelsOf(RequestValidator validator, List<RoleLevel> levels)
    {
        if (levels.Count is 0 or > 5)
        {
            validator.Add("permissions", "must give 1 to 5 levels, one per resource type");
        }

        for (var i = 0; i < levels.Count; i++)
        {
            if (levels[i].Type == ResourceType.Unspecified || !Enum.IsDefined(levels[i].Type))
            {
                validator.Add($"permissions[{i}].type", "must be a resource type");
            }

            if (levels[i].Level is < PermissionLevel.None or >= PermissionLevel.Owner)
            {
                validator.Add($"permissions[{i}].level", "must be none, read, comment, edit or create (owner is granted, not given by roles)");
            }
        }

        if (levels.Select(l => l.Type).Distinct().Count() != levels.Count)
        {
            validator.Add("permissions", "must name each resource type at most once");
        }

        return levels;
    }
}

/// <summary>How resources and levels read in messages.</summary>
internal static class Names
{
    public static string Of(ResourceType type) => type switch
    {
        ResourceType.Workspace => "workspace",
        ResourceType.Base => "base",
        ResourceType.Table => "table",
        ResourceType.File => "file",
        ResourceType.Webhook => "webhook",
        _ => "resource",
    };

    public static string Of(PermissionLevel level) => level.ToString().ToLowerInvariant();
}
