using ProtoBuf;

namespace PyAirtable.Contracts.Common;

/// <summary>
/// Cache validators of a cacheable response (the seed's CacheableResponse). A client may keep the
/// response until <c>expires_at</c> and revalidate it by sending the <c>etag</c> back.
/// </summary>
[ProtoContract]
public sealed record CacheMetadata
{
    /// <summary>When the response should be considered stale (UTC).</summary>
    [ProtoMember(1)] public DateTime? ExpiresAt { get; init; }

    /// <summary>An opaque version tag of the response body; changes whenever the body changes.</summary>
    [ProtoMember(2)] public string Etag { get; init; } = "";
}
