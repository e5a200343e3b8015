using PyAirtable.Tools.Protos;

namespace PyAirtable.UnitTests.Gate;

/// <summary>
/// <c>protos check</c> end to end on a protos folder of its own: the committed export (so there is
/// no drift), the repository's buf.yaml and a released baseline; buf lint and buf breaking run for real.
/// </summary>
public sealed class ProtosCheckTests : IDisposable
{
    private readonly DirectoryInfo _protos = Directory.CreateTempSubdirectory("pyairtable-check-");
    private readonly StringWriter _output = new();

    public void Dispose()
    {
        _output.Dispose();
        _protos.Delete(recursive: true);
    }

    [Fact]
    public async Task Check_RenumberedFieldInUsers_FailsAgainstReleasedBaseline()
    {
        // The reproduction: GetUserRequest.if_none_match renumbered from 2 to 7, exported, checked.
        var export = GateProtos.Edit(ProtoWorkspace.ExportContracts(),
            "pyairtable/users/v1/users.proto", "string if_none_match = 2;", "string if_none_match = 7;");

        var code = await CheckAsync(export, baseline: GateProtos.Released());

        var output = _output.ToString();
        Assert.Equal(1, code);
        Assert.Contains("protos: lint (buf STANDARD): ok", output, StringComparison.Ordinal);
        Assert.Contains("protos/pyairtable/users/v1/users.proto", output, StringComparison.Ordinal);
        Assert.Contains("Previously present field \"2\" with name \"if_none_match\" on message \"GetUserRequest\"", output,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_ExportMatchingReleasedBaseline_Passes()
    {
        var code = await CheckAsync(ProtoWorkspace.ExportContracts(), baseline: GateProtos.Released());

        Assert.True(code == 0, _output.ToString());
    }

    [Fact]
    public async Task Check_StablePackageMissingFromBaseline_FailsWithReleaseHint()
    {
        var released = ProtoWorkspace.ExportContracts();
        var export = GateProtos.Merge(released, GateProtos.Demo("Baseline"));

        var code = await CheckAsync(export, baseline: released);

        var output = _output.ToString();
        Assert.Equal(1, code);
        Assert.Contains("protos: every stable package in the released baseline: FAILED", output, StringComparison.Ordinal);
        Assert.Contains($"not in {_protos.Name}/.baseline, so nothing guards it yet: pyairtable.demo.v1\n", output,
            StringComparison.Ordinal);
        Assert.Contains("run `pyairtable protos release`", output, StringComparison.Ordinal);
        Assert.Contains("protos: lint (buf STANDARD): ok", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v1alpha1")]
    [InlineData("v1beta1")]
    public async Task Check_UnstablePackageMissingFromBaseline_Passes(string version)
    {
        var released = ProtoWorkspace.ExportContracts();
        var export = GateProtos.Merge(released, GateProtos.Demo("Baseline", version));

        var code = await CheckAsync(export, baseline: released);

        Assert.True(code == 0, _output.ToString());
    }

    [Theory]
    [InlineData("v1alpha1")]
    [InlineData("v1beta1")]
    public async Task Check_UnstablePackageBrokenSinceRelease_Passes(string version)
    {
        // buf breaking judges v1alpha1 like v1 unless told otherwise; the gate leaves it out of both sides.
        var released = ProtoWorkspace.ExportContracts();
        var baseline = GateProtos.Merge(released, GateProtos.Demo("Baseline", version));
        var export = GateProtos.Merge(released, GateProtos.Demo("RenumberedField", version));

        var code = await CheckAsync(export, baseline);

        Assert.True(code == 0, _output.ToString());
    }

    [Fact]
    public async Task Check_StablePackageDeletedSinceRelease_Fails()
    {
        // Deleting a whole package breaks its clients, and a release after it would drop it from the baseline.
        var export = ProtoWorkspace.ExportContracts();
        var baseline = GateProtos.Merge(export, GateProtos.Demo("Baseline"));

        var code = await CheckAsync(export, baseline);

        var output = _output.ToString();
        Assert.Equal(1, code);
        Assert.Contains("Previously present package \"pyairtable.demo.v1\" was deleted.", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v1alpha1")]
    [InlineData("v1beta1")]
    public async Task Check_UnstablePackageDeletedSinceRelease_Passes(string version)
    {
        var export = ProtoWorkspace.ExportContracts();
        var baseline = GateProtos.Merge(export, GateProtos.Demo("Baseline", version));

        var code = await CheckAsync(export, baseline);

        Assert.True(code == 0, _output.ToString());
    }

    [Fact]
    public async Task Check_StablePackageImportingUnstable_Fails()
    {
        // Otherwise a change in the unstable package would change the stable contract unjudged.
        var released = ProtoWorkspace.ExportContracts();
        const string users = "pyairtable/users/v1/users.proto";
        var imported = GateProtos.Edit(released, users, "import \"pyairtable/common/v1/common.proto\";\n",
            "import \"pyairtable/common/v1/common.proto\";\nimport \"pyairtable/demo/v1alpha1/demo.proto\";\n");
        var export = GateProtos.Merge(GateProtos.Demo("Baseline", "v1alpha1"), GateProtos.Edit(imported, users,
            "string if_none_match = 2;\n", "string if_none_match = 2;\n  pyairtable.demo.v1alpha1.GetThingResponse thing = 3;\n"));

        var code = await CheckAsync(export, baseline: released);

        var output = _output.ToString();
        Assert.Equal(1, code);
        Assert.Contains("protos: lint (buf STANDARD): ok", output, StringComparison.Ordinal);
        Assert.Contains("protos/pyairtable/users/v1/users.proto: imports pyairtable/demo/v1alpha1/demo.proto, an unstable package", output,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckAndRelease_V2BesideReleasedV1_IsAnAddition()
    {
        // The way out of a wire break the gate names: v2 from a ….Demo.V2 namespace, v1 left exactly as released.
        var released = GateProtos.Demo("Baseline");
        var export = GateProtos.DemoWithV2();
        Assert.Equal(released["pyairtable/demo/v1/demo.proto"], export["pyairtable/demo/v1/demo.proto"]);
        Assert.Contains("import \"pyairtable/demo/v1/demo.proto\";", export["pyairtable/demo/v2/demo.proto"], StringComparison.Ordinal);

        // check: v2 is a new stable package to release, not a break of v1.
        var check = await CheckAsync(export, released);

        var output = _output.ToString();
        Assert.Equal(1, check);
        Assert.Contains("protos: no drift", output, StringComparison.Ordinal);
        Assert.Contains("protos: lint (buf STANDARD): ok", output, StringComparison.Ordinal);
        Assert.Contains("nothing guards it yet: pyairtable.demo.v2\n", output, StringComparison.Ordinal);
        Assert.Contains("v1alpha1/v1beta1 packages exempt): ok\n", output, StringComparison.Ordinal);

        // release takes it, and check passes from then on.
        using var releaseOutput = new StringWriter();
        var release = await ProtoWorkspace.ReleaseAsync(_protos, releaseOutput, CancellationToken.None);

        Assert.True(release == 0, releaseOutput.ToString());
        Assert.Contains("newly guarded: pyairtable.demo.v2\n", releaseOutput.ToString(), StringComparison.Ordinal);
        Assert.Equal(export, ProtoWorkspace.Read(Path.Combine(_protos.FullName, ProtoWorkspace.BaselineFolder)));

        using var recheckOutput = new StringWriter();
        var recheck = await ProtoWorkspace.CheckAsync(_protos, export, recheckOutput, CancellationToken.None);
        Assert.True(recheck == 0, recheckOutput.ToString());
    }

    private async Task<int> CheckAsync(IReadOnlyDictionary<string, string> export, IReadOnlyDictionary<string, string> baseline)
    {
        ProtoWorkspace.Write(_protos, export);
        ProtoWorkspace.Write(new DirectoryInfo(Path.Combine(_protos.FullName, ProtoWorkspace.BaselineFolder)), baseline);
        File.Copy(Path.Combine(RepositoryRoot.Path, "protos", "buf.yaml"), Path.Combine(_protos.FullName, "buf.yaml"));
        return await ProtoWorkspace.CheckAsync(_protos, export, _output, CancellationToken.None);
    }
}
