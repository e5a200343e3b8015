using ProtoBuf;

namespace PyAirtable.Contracts.Common;

/// <summary>How the caller of a request proved who they are.</summary>
[ProtoContract(Name = "AuthMethod")]
public enum AuthMethod
{
    /// <summary>Not authenticated, or not known.</summary>
    [ProtoEnum(Name = "AUTH_METHOD_UNSPECIFIED")] Unspecified = 0,
    /// <summary>A bearer JWT access token issued by the Auth service.</summary>
    [ProtoEnum(Name = "AUTH_METHOD_JWT")] Jwt = 1,
    /// <summary>An API key sent in the <c>x-api-key</c> header.</summary>
    [ProtoEnum(Name = "AUTH_METHOD_API_KEY")] ApiKey = 2,
    /// <summary>A service token minted by the platform for its own services calling each other.</summary>
    [ProtoEnum(Name = "AUTH_METHOD_SERVICE")] Service = 3,
}

/// <summary>The authenticated caller of a request, as established by the gateway layer.</summary>
[ProtoContract]
public sealed record UserContext
{
    /// <summary>The user's id; empty when the call is anonymous.</summary>
    [ProtoMember(1)] public string UserId { get; init; } = "";

    /// <summary>The user's e-mail address at the time the credentials were issued.</summary>
    [ProtoMember(2)] public string Email { get; init; } = "";

    /// <summary>Roles held by the user (platform-wide roles, not workspace roles).</summary>
    [ProtoMember(3)] public List<string> Roles { get; init; } = [];

    /// <summary>Scopes the credentials are limited to (an API key's scopes); empty means unrestricted.</summary>
    [ProtoMember(4)] public List<string> Scopes { get; init; } = [];

    /// <summary>How the caller authenticated.</summary>
    [ProtoMember(5)] public AuthMethod AuthMethod { get; init; }

    /// <summary>The credential the call was made with: the session id of an access token, or the id of an API key.</summary>
    [ProtoMember(6)] public string CredentialId { get; init; } = "";

    /// <summary>
    /// Whether the user proved they receive mail at <c>email</c> (AuthService.VerifyEmail), as of when the
    /// credentials were issued: an access token carries it as the OIDC claim <c>email_verified</c> (tokens issued
    /// before verification say false until refreshed); for an API key it is read from the account on every call.
    /// Accepting a workspace invitation requires it.
    /// </summary>
    [ProtoMember(7)] public bool EmailVerified { get; init; }

    /// <summary>True when the call carries a verified identity.</summary>
    public bool IsAuthenticated => UserId.Length > 0;
}
