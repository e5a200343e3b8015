using PyAirtable.Tools.Protos;

namespace PyAirtable.UnitTests.Gate;

/// <summary>
/// <c>protos release</c> on a protos folder of its own: it moves the baseline for what a release is for
/// (new packages, fields, RPCs) and refuses a wire break, so releasing cannot silence the gate.
/// </summary>
public sealed class ProtosReleaseTests : IDisposable
{
    private readonly DirectoryInfo _protos = Directory.CreateTempSubdirectory("pyairtable-release-");
    private readonly StringWriter _output = new();

    private string Baseline => Path.Combine(_protos.FullName, ProtoWorkspace.BaselineFolder);

    public void Dispose()
    {
        _output.Dispose();
        _protos.Delete(recursive: true);
    }

    [Theory]
    [InlineData("RenumberedField", "Previously present field \"3\" with name \"name\" on message \"GetThingResponse\" was deleted")]
    [InlineData("ChangedFieldType", "changed type from \"string\" to \"int32\"")]
    [InlineData("DeletedField", "was deleted without reserving the number \"3\"")]
    [InlineData("DeletedRpc", "Previously present RPC \"StreamThings\" on service \"DemoService\" was deleted")]
    [InlineData("ChangedStreamingKind", "RPC \"StreamThings\" on service \"DemoService\" changed from server streaming to server unary")]
    public async Task Release_WireBreak_IsRefusedAndBaselineUnchanged(string variant, string expectedFinding)
    {
        Commit(baseline: GateProtos.Demo("Baseline"), export: GateProtos.Demo(variant));
        var before = Snapshot();

        var code = await ProtoWorkspace.ReleaseAsync(_protos, _output, CancellationToken.None);

        var output = _output.ToString();
        Assert.Equal(1, code);
        Assert.Contains(expectedFinding, output, StringComparison.Ordinal);
        Assert.Contains("release REFUSED", output, StringComparison.Ordinal);
        Assert.Contains("needs a new package version", output, StringComparison.Ordinal);
        AssertUnchanged(before);
    }

    [Fact]
    public async Task Release_StablePackageDeleted_IsRefusedAndBaselineUnchanged()
    {
        // Otherwise a release could drop the package, and a later one bring it back broken as "new".
        Commit(baseline: GateProtos.Demo("Baseline"), export: GateProtos.Demo("Baseline", "v1alpha1"));
        var before = Snapshot();

        var code = await ProtoWorkspace.ReleaseAsync(_protos, _output, CancellationToken.None);

        Assert.Equal(1, code);
        Assert.Contains("\n  <input>:1:1:Previously present package \"pyairtable.demo.v1\" was deleted.\n", _output.ToString(),
            StringComparison.Ordinal);
        AssertUnchanged(before);
    }

    [Theory]
    [InlineData("AddedField")]
    [InlineData("AddedRpc")]
    [InlineData("DeletedFieldReserved")]
    public async Task Release_AdditiveChange_MovesBaseline(string variant)
    {
        Commit(baseline: GateProtos.Demo("Baseline"), export: GateProtos.Demo(variant));

        var code = await ProtoWorkspace.ReleaseAsync(_protos, _output, CancellationToken.None);

        Assert.True(code == 0, _output.ToString());
        Assert.Equal(GateProtos.Demo(variant), ProtoWorkspace.Read(Baseline));
    }

    [Fact]
    public async Task Release_NewStablePackage_MovesBaselineAndNamesIt()
    {
        var export = GateProtos.Merge(GateProtos.Demo("Baseline"), ProtoWorkspace.ExportContracts());
        Commit(baseline: GateProtos.Demo("Baseline"), export);

        var code = await ProtoWorkspace.ReleaseAsync(_protos, _output, CancellationToken.None);

        Assert.True(code == 0, _output.ToString());
        Assert.Equal(export, ProtoWorkspace.Read(Baseline));
        Assert.Contains("newly guarded: pyairtable.analytics.v1, pyairtable.auth.v1, pyairtable.common.v1", _output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Release_UnstablePackageBroken_MovesBaseline()
    {
        var baseline = GateProtos.Merge(GateProtos.Demo("Baseline"), GateProtos.Demo("Baseline", "v1alpha1"));
        var export = GateProtos.Merge(GateProtos.Demo("Baseline"), GateProtos.Demo("RenumberedField", "v1alpha1"));
        Commit(baseline, export);

        var code = await ProtoWorkspace.ReleaseAsync(_protos, _output, CancellationToken.None);

        Assert.True(code == 0, _output.ToString());
        Assert.Equal(export, ProtoWorkspace.Read(Baseline));
    }

    [Fact]
    public async Task Release_NoBaseline_CreatesIt()
    {
        ProtoWorkspace.Write(_protos, GateProtos.Demo("Baseline"));

        var code = await ProtoWorkspace.ReleaseAsync(_protos, _output, CancellationToken.None);

        Assert.True(code == 0, _output.ToString());
        Assert.Equal(GateProtos.Demo("Baseline"), ProtoWorkspace.Read(Baseline));
    }

    private void Commit(IReadOnlyDictionary<string, string> baseline, IReadOnlyDictionary<string, string> export)
    {
        ProtoWorkspace.Write(new DirectoryInfo(Baseline), baseline);
        ProtoWorkspace.Write(_protos, export);
    }

    /// <summary>Every file of the baseline folder, byte for byte.</summary>
    private SortedDictionary<string, byte[]> Snapshot() =>
        new(Directory.GetFiles(Baseline, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(Baseline, f), File.ReadAllBytes), StringComparer.Ordinal);

    private void AssertUnchanged(SortedDictionary<string, byte[]> before)
    {
        var after = Snapshot();
        Assert.Equal(before.Keys, after.Keys);
        Assert.All(before, file => Assert.Equal(file.Value, after[file.Key]));
    }
}
