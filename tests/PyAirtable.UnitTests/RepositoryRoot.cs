namespace PyAirtable.UnitTests;

/// <summary>The checkout the tests run from (the folder holding PyAirtable.sln).</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "PyAirtable.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("PyAirtable.sln not found above " + AppContext.BaseDirectory);
    }
}
