#pragma warning disable CA1711, IDE0130
using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;

namespace PyAirtable.UnitTests.Bad.Contracts.Broken;

public enum Colour
{
    Red = 1,
    Blue = 2,
}

[ProtoContract]
public sealed record Paint
{
    [ProtoMember(1)] public Colour Colour { get; init; }
}

[Service("pyairtable.elsewhere.v1.MisnamedService")]
public interface IMisnamedService
{
    ValueTask<Paint> GetPaintAsync(Paint request, CallContext context = default);
}

[ProtoContract]
[ProtoInclude(10, typeof(DerivedShape))]
public class Shape
{
    [ProtoMember(1)] public string Name { get; init; } = "";
}

[ProtoContract]
public sealed class DerivedShape : Shape
{
    [ProtoMember(1)] public int Corners { get; init; }
}

[ProtoContract]
public sealed record NullableItems
{
    [ProtoMember(1)] public List<int?> Values { get; init; } = [];
}
