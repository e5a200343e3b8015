using System.CommandLine;

namespace PyAirtable.Tools.Protos;

/// <summary>
/// <c>pyairtable protos export|check|release</c>: the contract toolchain. <c>export</c> writes
/// protos/ from the Contracts assembly; <c>check</c> fails on drift (committed protos differ from a
/// fresh export), on lint findings (buf, STANDARD), on a stable package (not …v1alpha1/…v1beta1)
/// missing from the released baseline, and on breaking changes of stable packages against it (buf,
/// WIRE_JSON + RPC_NO_DELETE + SERVICE_NO_DELETE + PACKAGE_NO_DELETE); <c>release</c> makes the
/// current protos the new baseline, unless they break the current one by those same rules.
/// </summary>
internal static class ProtosCommand
{
    public static Command Create()
    {
        var directory = new Option<DirectoryInfo>("--dir", "-d")
        {
            Description = "The protos folder.",
            DefaultValueFactory = _ => new DirectoryInfo(Path.Combine(FindRoot(), "protos")),
        };

        var export = new Command("export", "Write protos/ from the Contracts assembly.") { directory };
        export.SetAction(parse => Run(() => ProtoWorkspace.Export(parse.GetValue(directory)!)));

        var check = new Command("check", "Fail on drift, lint findings or breaking changes against the released baseline.") { directory };
        check.SetAction((parse, ct) => RunAsync(() => ProtoWorkspace.CheckAsync(parse.GetValue(directory)!, Console.Out, ct)));

        var release = new Command("release",
            "Make the current protos the released baseline that later changes must stay compatible with (refused across a wire break).")
        {
            directory,
        };
        release.SetAction((parse, ct) => RunAsync(() => ProtoWorkspace.ReleaseAsync(parse.GetValue(directory)!, Console.Out, ct)));

        return new Command("protos", "Export and check the .proto files of the contracts.") { export, check, release };
    }

    private static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (ProtoExportException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return 2;
        }
    }

    private static async Task<int> RunAsync(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (ProtoExportException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return 2;
        }
    }

    private static string FindRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "PyAirtable.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return Environment.CurrentDirectory;
    }
}
