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

    [Fact]
    public void Export_V2Namespace_IsPackageV2BesideV1()
    {
        var files = Export(typeof(Versioned.Contracts.Things.V2.IThingService));

        var v2 = files["pyairtable/things/v2/things.proto"];
        Assert.Contains("""
            package pyairtable.things.v2;

            import "pyairtable/things/v1/things.proto";

            option csharp_namespace = "PyAirtable.Contracts.Things.V2";
            option go_package = "pyairtable.dev/gen/go/pyairtable/things/v2;thingsv2";
            option java_multiple_files = true;
            option java_package = "dev.pyairtable.things.v2";

            service ThingService {
              rpc GetThing(GetThingRequest) returns (GetThingResponse);
            }
            """, v2, StringComparison.Ordinal);
        Assert.Contains("int64 id = 1;", v2, StringComparison.Ordinal);
        Assert.Contains("pyairtable.things.v1.ThingKind kind = 2;", v2, StringComparison.Ordinal);

        // The v1 type it references is exported in its own package, where v1 clients already know it.
        Assert.Equal(["pyairtable/things/v1/things.proto", "pyairtable/things/v2/things.proto"], files.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("package pyairtable.things.v1;", files["pyairtable/things/v1/things.proto"], StringComparison.Ordinal);
        Assert.Contains("enum ThingKind {", files["pyairtable/things/v1/things.proto"], StringComparison.Ordinal);
    }

    [Fact]
    public void Export_V1AndV2Together_LeavesV1AsItsOwnExport()
    {
        var v1 = Export(typeof(Versioned.Contracts.Things.IThingService));
        var both = Export(typeof(Versioned.Contracts.Things.IThingService), typeof(Versioned.Contracts.Things.V2.IThingService));

        Assert.Equal(v1["pyairtable/things/v1/things.proto"], both["pyairtable/things/v1/things.proto"]);
        var proto = v1["pyairtable/things/v1/things.proto"];
        Assert.Contains("option csharp_namespace = \"PyAirtable.Contracts.Things\";\n", proto, StringComparison.Ordinal);
        Assert.Contains("option go_package = \"pyairtable.dev/gen/go/pyairtable/things/v1;thingsv1\";\n", proto, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(typeof(Versioned.Contracts.Things.V1Alpha1.IThingService), "v1alpha1", "V1Alpha1")]
    [InlineData(typeof(Versioned.Contracts.Things.V1Beta1.IThingService), "v1beta1", "V1Beta1")]
    public void Export_UnstableNamespace_IsUnstablePackage(Type service, string version, string csharpVersion)
    {
        var files = Export(service);

        var proto = Assert.Single(files, f => f.Key == $"pyairtable/things/{version}/things.proto").Value;
        Assert.Single(files);
        Assert.Contains($"""
            package pyairtable.things.{version};

            option csharp_namespace = "PyAirtable.Contracts.Things.{csharpVersion}";
            option go_package = "pyairtable.dev/gen/go/pyairtable/things/{version};things{version}";
            option java_multiple_files = true;
            option java_package = "dev.pyairtable.things.{version}";
            """, proto, StringComparison.Ordinal);
        Assert.True(ProtoWorkspace.IsUnstable($"pyairtable.things.{version}"));
    }

    [Theory]
    [InlineData(typeof(Versioned.Contracts.Things.V2Beta.Thing), "names no package")]
    [InlineData(typeof(Versioned.Contracts.Things.V1alpha1.Thing), "names no package")]
    [InlineData(typeof(Versioned.Contracts.Things.Version2.Thing), "names no package")]
    [InlineData(typeof(Versioned.Contracts.Things.Internal.V2.Thing), "names no package")]
    [InlineData(typeof(Versioned.Contracts.V2.Thing), "names no package")]
    [InlineData(typeof(Versioned.Contracts.Things.V1.Thing), "Versioned.Contracts.Things' itself, without '.V1'")]
    public void Export_NamespaceNamingNoPackageVersion_IsRefused(Type type, string problem)
    {
        var ex = Assert.Throws<ProtoExportException>(() => Export(type));

        var only = Assert.Single(ex.Problems);
        Assert.StartsWith(type.FullName + ": ", only, StringComparison.Ordinal);
        Assert.Contains(problem, only, StringComparison.Ordinal);
    }

    [Fact]
    public void Export_V2ServiceNamedForV1_IsRefused()
    {
        var ex = Assert.Throws<ProtoExportException>(() => Export(typeof(Versioned.Contracts.Things.V2.IMisnamedThingService)));

        Assert.Contains(ex.Problems, p => p.Contains("must be 'pyairtable.things.v2.<Name>Service'", StringComparison.Ordinal));
    }

    private static IReadOnlyDictionary<string, string> Export(params Type[] types) =>
        ProtoExporter.Export(types, XmlDocs.For(typeof(ProtoExportTests).Assembly));
}
