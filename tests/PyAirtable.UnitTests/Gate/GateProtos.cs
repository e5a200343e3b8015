using PyAirtable.Tools.Protos;

namespace PyAirtable.UnitTests.Gate;

/// <summary>Proto files for the gate's tests: exports of the fixtures in GateFixtures.cs, and edits of exported text.</summary>
internal static class GateProtos
{
    /// <summary>What the real exporter writes for one fixture variant (package pyairtable.demo.v1).</summary>
    public static IReadOnlyDictionary<string, string> Demo(string variant) => Export($"PyAirtable.UnitTests.Gate.{variant}.Contracts.Demo");

    /// <summary>The Baseline fixture and its v2 (namespace ….Contracts.Demo.V2) exported together, as one assembly is.</summary>
    public static IReadOnlyDictionary<string, string> DemoWithV2() =>
        Export("PyAirtable.UnitTests.Gate.Baseline.Contracts.Demo", "PyAirtable.UnitTests.Gate.Baseline.Contracts.Demo.V2");

    /// <summary>
    /// A fixture variant as package pyairtable.demo.<paramref name="version"/> (v1alpha1, v1beta1), made on the
    /// proto text so each variant is declared once; a ….V1Alpha1 namespace exports the same (ProtoExportTests).
    /// </summary>
    public static IReadOnlyDictionary<string, string> Demo(string variant, string version) =>
        Demo(variant).ToDictionary(
            f => f.Key.Replace("pyairtable/demo/v1/", $"pyairtable/demo/{version}/", StringComparison.Ordinal),
            f => f.Value
                .Replace("pyairtable.demo.v1", $"pyairtable.demo.{version}", StringComparison.Ordinal)
                .Replace("pyairtable/demo/v1", $"pyairtable/demo/{version}", StringComparison.Ordinal)
                .Replace(";demov1\"", $";demo{version}\"", StringComparison.Ordinal),
            StringComparer.Ordinal);

    private static IReadOnlyDictionary<string, string> Export(params string[] namespaces)
    {
        var types = typeof(GateProtos).Assembly.GetTypes().Where(t => t.Namespace is { } ns && namespaces.Contains(ns));
        return ProtoExporter.Export(types, XmlDocs.For(typeof(GateProtos).Assembly));
    }

    /// <summary>The released baseline committed in this repository (protos/.baseline).</summary>
    public static IReadOnlyDictionary<string, string> Released() =>
        ProtoWorkspace.Read(Path.Combine(RepositoryRoot.Path, "protos", ProtoWorkspace.BaselineFolder));

    /// <summary><paramref name="files"/> with one exact text in one file replaced (it must be there, once).</summary>
    public static IReadOnlyDictionary<string, string> Edit(IReadOnlyDictionary<string, string> files, string path, string from, string to)
    {
        var text = files[path];
        var at = text.IndexOf(from, StringComparison.Ordinal);
        Assert.True(at >= 0 && text.IndexOf(from, at + 1, StringComparison.Ordinal) < 0, $"'{from}' is not in {path} exactly once");
        var edited = text.Replace(from, to, StringComparison.Ordinal);
        return files.ToDictionary(f => f.Key, f => f.Key == path ? edited : f.Value, StringComparer.Ordinal);
    }

    public static IReadOnlyDictionary<string, string> Merge(params IReadOnlyDictionary<string, string>[] sets) =>
        sets.SelectMany(s => s).ToDictionary(StringComparer.Ordinal);
}
