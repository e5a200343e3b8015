using ProtoBuf;

namespace PyAirtable.Contracts.Common;

/// <summary>
/// One error in a response that reports errors per item (for example one entry of a batch).
/// Whole-call failures are reported as a gRPC status with <c>google.rpc.ErrorInfo</c> instead.
/// </summary>
[ProtoContract]
public sealed record ErrorDetail
{
    /// <summary>The error code name, for example <c>ERROR_CODE_NOT_FOUND</c>.</summary>
    [ProtoMember(1)] public string Code { get; init; } = "";

    /// <summary>A message for developers; never shown to end users as is.</summary>
    [ProtoMember(2)] public string Message { get; init; } = "";

    /// <summary>Machine-readable context, for example the offending resource id.</summary>
    [ProtoMember(3)] public Dictionary<string, string> Metadata { get; init; } = [];
}
