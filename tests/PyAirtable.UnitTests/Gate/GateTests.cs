using PyAirtable.Tools.Protos;

namespace PyAirtable.UnitTests.Gate;

/// <summary>
/// The compatibility gate can fail: C# contract changes are exported with the real exporter and
/// judged by the real gate (buf breaking: WIRE_JSON + RPC_NO_DELETE + SERVICE_NO_DELETE) against
/// the baseline contract. Needs the pinned buf that ./test.sh installs (npm ci).
/// </summary>
public sealed class GateTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("pyairtable-gate-");

    public void Dispose() => _work.Delete(recursive: true);

    [Theory]
    [InlineData("RenumberedField", "Previously present field \"3\" with name \"name\" on message \"GetThingResponse\" was deleted")]
    [InlineData("ChangedFieldType", "changed type from \"string\" to \"int32\"")]
    [InlineData("DeletedField", "was deleted without reserving the number \"3\"")]
    [InlineData("DeletedRpc", "Previously present RPC \"StreamThings\" on service \"DemoService\" was deleted")]
    [InlineData("ChangedStreamingKind", "RPC \"StreamThings\" on service \"DemoService\" changed from server streaming to server unary")]
    public async Task Breaking_WireBreakingChange_IsRejected(string variant, string expectedMessage)
    {
        var result = await JudgeAsync(variant);

        var message = result.Output + result.Error;
        Assert.NotEqual(0, result.ExitCode);
        Assert.True(message.Contains(expectedMessage, StringComparison.Ordinal), message);
    }

    [Fact]
    public async Task Breaking_EveryStablePackageDeleted_IsRejected()
    {
        // No fixture namespace "DeletedPackage": nothing stable is left, and buf refuses an empty module,
        // so the gate words this case itself.
        var result = await JudgeAsync("DeletedPackage");

        Assert.Equal(100, result.ExitCode);
        Assert.Equal("<input>:1:1:Previously present package \"pyairtable.demo.v1\" was deleted.\n", result.Output);
    }

    [Theory]
    [InlineData("AddedField")]
    [InlineData("AddedRpc")]
    [InlineData("DeletedFieldReserved")]
    public async Task Breaking_CompatibleChange_IsAccepted(string variant)
    {
        var result = await JudgeAsync(variant);

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
    }

    [Fact]
    public void Export_DeletedFieldReserved_ReservesNumberAndName()
    {
        var proto = Export("DeletedFieldReserved").Single().Value;

        Assert.Contains("  reserved 3;\n  reserved \"name\";\n", proto, StringComparison.Ordinal);
    }

    [Fact]
    public void Export_StreamingKinds_FollowTheServerBinder()
    {
        var proto = Export("Baseline").Single().Value;

        Assert.Contains("rpc GetThing(GetThingRequest) returns (GetThingResponse);", proto, StringComparison.Ordinal);
        Assert.Contains("rpc StreamThings(StreamThingsRequest) returns (stream StreamThingsResponse);", proto, StringComparison.Ordinal);
    }

    private async Task<BufResult> JudgeAsync(string variant)
    {
        var baseline = Directory.CreateDirectory(Path.Combine(_work.FullName, "baseline"));
        var current = Directory.CreateDirectory(Path.Combine(_work.FullName, variant));
        ProtoWorkspace.Write(baseline, Export("Baseline"));
        ProtoWorkspace.Write(current, Export(variant));
        return await ProtoWorkspace.BreakingAsync(current.FullName, baseline.FullName, CancellationToken.None);
    }

    private static IReadOnlyDictionary<string, string> Export(string variant) => GateProtos.Demo(variant);
}
