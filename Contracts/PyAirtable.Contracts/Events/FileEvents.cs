using ProtoBuf;

namespace PyAirtable.Contracts.Events;

/// <summary>A file was stored (by a batch upload or a completed resumable upload).</summary>
[ProtoContract]
public sealed record FileUploaded : IDomainEvent
{
    /// <summary>The file.</summary>
    [ProtoMember(1)] public string FileId { get; init; } = "";

    /// <summary>The base it is attached to.</summary>
    [ProtoMember(2)] public string BaseId { get; init; } = "";

    /// <summary>The table of the base it is attached to, or empty.</summary>
    [ProtoMember(3)] public string TableId { get; init; } = "";

    /// <summary>The base's workspace.</summary>
    [ProtoMember(4)] public string WorkspaceId { get; init; } = "";

    /// <summary>Its name.</summary>
    [ProtoMember(5)] public string Name { get; init; } = "";

    /// <summary>Its media type.</summary>
    [ProtoMember(6)] public string ContentType { get; init; } = "";

    /// <summary>Its size in bytes.</summary>
    [ProtoMember(7)] public long SizeBytes { get; init; }

    /// <summary>The SHA-256 of its bytes, lower-case hex.</summary>
    [ProtoMember(8)] public string Sha256 { get; init; } = "";

    /// <summary>The user who uploaded it.</summary>
    [ProtoMember(9)] public string UploadedBy { get; init; } = "";

    string IDomainEvent.Subject => FileId;

    string IDomainEvent.AggregateType => "file";

    string IDomainEvent.EventWorkspaceId => WorkspaceId;
}

/// <summary>A file was deleted.</summary>
[ProtoContract]
public sealed record FileDeleted : IDomainEvent
{
    /// <summary>The file.</summary>
    [ProtoMember(1)] public string FileId { get; init; } = "";

    /// <summary>The base it was attached to.</summary>
    [ProtoMember(2)] public string BaseId { get; init; } = "";

    /// <summary>The base's workspace.</summary>
    [ProtoMember(3)] public string WorkspaceId { get; init; } = "";

    string IDomainEvent.Subject => FileId;

    string IDomainEvent.AggregateType => "file";

    string IDomainEvent.EventWorkspaceId => WorkspaceId;
}
