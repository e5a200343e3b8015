using ProtoBuf;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;
using PyAirtable.Tools.Protos;

namespace PyAirtable.UnitTests;

public sealed class ProtoExportTests
{
    private static readonly string Root = RepositoryRoot.Path;

    [Fact]
    public void Export_IsByteIdenticalToCommittedProtos()
    {
        // The golden test of the exported contract; `pyairtable protos export` updates protos/.
        var drift = ProtoWorkspace.Drift(new DirectoryInfo(Path.Combine(Root, "protos")), ProtoWorkspace.ExportContracts());

        Assert.True(drift.Count == 0, "protos/ is stale (run `dotnet run --project Tools/PyAirtable.Tools -- protos export`):\n" + string.Join("\n", drift));
    }

    [Fact]
    public void Export_RunTwice_IsIdentical()
    {
        Assert.Equal(ProtoWorkspace.ExportContracts(), ProtoWorkspace.ExportContracts());
    }

    [Fact]
    public void Export_CommonTypes_AreIdiomatic()
    {
        var common = ProtoWorkspace.ExportContracts()["pyairtable/common/v1/common.proto"];

        Assert.Contains("package pyairtable.common.v1;", common, StringComparison.Ordinal);
        Assert.Contains("optional string cursor = 3;", common, StringComparison.Ordinal);
        Assert.Contains("google.protobuf.Timestamp timestamp = 5;", common, StringComparison.Ordinal);
        Assert.Contains("ERROR_CODE_UNSPECIFIED = 0;", common, StringComparison.Ordinal);
        Assert.Contains("map<string, string> metadata = 3;", common, StringComparison.Ordinal);
        Assert.DoesNotContain("bcl.proto", common, StringComparison.Ordinal);
        Assert.Contains("// The request id: the caller's x-request-id header", common, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("RequestId", "request_id")]
    [InlineData("HTTPMethod", "http_method")]
    [InlineData("Etag", "etag")]
    [InlineData("Page2Size", "page2_size")]
    public void SnakeCase_ConvertsCSharpNames(string name, string expected)
    {
        Assert.Equal(expected, ProtoExporter.SnakeCase(name));
    }

    [Fact]
    public void Export_EnumWithoutUnspecifiedZero_IsRefused()
    {
        var ex = Assert.Throws<ProtoExportException>(() =>
            ProtoExporter.Export([typeof(Bad.Contracts.Broken.Colour), typeof(Bad.Contracts.Broken.Paint)], XmlDocs.For(typeof(ProtoExportTests).Assembly)));

        Assert.Contains(ex.Problems, p => p.Contains("COLOUR_UNSPECIFIED = 0", StringComparison.Ordinal));
    }

    [Fact]
    public void Export_ServiceOutsideItsNamespacePackage_IsRefused()
    {
        var ex = Assert.Throws<ProtoExportException>(() =>
            ProtoExporter.Export([typeof(Bad.Contracts.Broken.IMisnamedService)], XmlDocs.For(typeof(ProtoExportTests).Assembly)));

        Assert.Contains(ex.Problems, p => p.Contains("pyairtable.broken.v1", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(typeof(Bad.Contracts.Broken.Shape), "inheritance")]
    [InlineData(typeof(Bad.Contracts.Broken.NullableItems), "a list of Nullable`1 has no proto3 equivalent")]
    public void Export_WhatTheWireWouldNotMatch_IsRefused(Type type, string problem)
    {
        var ex = Assert.Throws<ProtoExportException>(() => ProtoExporter.Export([type], XmlDocs.For(typeof(ProtoExportTests).Assembly)));

        Assert.Contains(ex.Problems, p => p.Contains(problem, StringComparison.Ordinal));
    }
}
