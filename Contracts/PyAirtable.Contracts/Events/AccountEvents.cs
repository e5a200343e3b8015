using ProtoBuf;
using PyAirtable.Contracts.Users;

namespace PyAirtable.Contracts.Events;

/// <summary>A user registered: their account and profile exist.</summary>
[ProtoContract]
public sealed record UserRegistered : IDomainEvent
{
    /// <summary>The user.</summary>
    [ProtoMember(1)] public string UserId { get; init; } = "";

    /// <summary>Their e-mail address (lower case).</summary>
    [ProtoMember(2)] public string Email { get; init; } = "";

    /// <summary>Their display name.</summary>
    [ProtoMember(3)] public string DisplayName { get; init; } = "";

    string IDomainEvent.Subject => UserId;

    string IDomainEvent.AggregateType => "user";
}

/// <summary>A user's profile changed; the fields hold the profile after the change.</summary>
[ProtoContract]
public sealed record UserUpdated : IDomainEvent
{
    /// <summary>The user.</summary>
    [ProtoMember(1)] public string UserId { get; init; } = "";

    /// <summary>The display name.</summary>
    [ProtoMember(2)] public string DisplayName { get; init; } = "";

    /// <summary>The avatar URL, or empty.</summary>
    [ProtoMember(3)] public string AvatarUrl { get; init; } = "";

    /// <summary>The IANA time zone, or empty.</summary>
    [ProtoMember(4)] public string TimeZone { get; init; } = "";

    /// <summary>The profile's version after the change (its etag counts the same way).</summary>
    [ProtoMember(5)] public long Version { get; init; }

    string IDomainEvent.Subject => UserId;

    string IDomainEvent.AggregateType => "user";
}

/// <summary>A user was deactivated: every credential of theirs is refused, logins included.</summary>
[ProtoContract]
public sealed record UserDeactivated : IDomainEvent
{
    /// <summary>The user.</summary>
    [ProtoMember(1)] public string UserId { get; init; } = "";

    /// <summary>Their status now (deactivated).</summary>
    [ProtoMember(2)] public UserStatus Status { get; init; }

    string IDomainEvent.Subject => UserId;

    string IDomainEvent.AggregateType => "user";
}

/// <summary>An API key was created (the secret never travels in an event).</summary>
[ProtoContract]
public sealed record ApiKeyCreated : IDomainEvent
{
    /// <summary>The key.</summary>
    [ProtoMember(1)] public string KeyId { get; init; } = "";

    /// <summary>Its owner.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";

    /// <summary>Its name.</summary>
    [ProtoMember(3)] public string Name { get; init; } = "";

    /// <summary>Its visible prefix (to recognise it in a list).</summary>
    [ProtoMember(4)] public string Prefix { get; init; } = "";

    /// <summary>The scopes it holds.</summary>
    [ProtoMember(5)] public List<string> Scopes { get; init; } = [];

    /// <summary>When it expires (UTC), if it does.</summary>
    [ProtoMember(6)] public DateTime? ExpiresAt { get; init; }

    string IDomainEvent.Subject => KeyId;

    string IDomainEvent.AggregateType => "api_key";
}

/// <summary>An API key was revoked, with every key minted from it.</summary>
[ProtoContract]
public sealed record ApiKeyRevoked : IDomainEvent
{
    /// <summary>The key.</summary>
    [ProtoMember(1)] public string KeyId { get; init; } = "";

    /// <summary>Its owner.</summary>
    [ProtoMember(2)] public string UserId { get; init; } = "";

    /// <summary>The keys minted from it (directly or not) that were revoked with it.</summary>
    [ProtoMember(3)] public List<string> DescendantKeyIds { get; init; } = [];

    string IDomainEvent.Subject => KeyId;

    string IDomainEvent.AggregateType => "api_key";
}
