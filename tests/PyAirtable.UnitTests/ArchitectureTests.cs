using System.Xml.Linq;

namespace PyAirtable.UnitTests;

/// <summary>The dependency arrows of the layout, enforced on the project files.</summary>
public sealed class ArchitectureTests
{
    private static readonly string Root = RepositoryRoot.Path;

    [Fact]
    public void Contracts_DependsOnProtobufNetOnly()
    {
        var project = Load("Contracts/PyAirtable.Contracts/PyAirtable.Contracts.csproj");

        Assert.Empty(Items(project, "ProjectReference"));
        Assert.Empty(Items(project, "FrameworkReference"));
        Assert.Equal(["protobuf-net", "protobuf-net.Grpc"], Items(project, "PackageReference").Order());
    }

    [Fact]
    public void Contracts_TargetsNet8AndNet10()
    {
        var project = Load("Contracts/PyAirtable.Contracts/PyAirtable.Contracts.csproj");

        Assert.Equal("net8.0;net10.0", project.Descendants("TargetFrameworks").Single().Value);
    }

    [Fact]
    public void Services_ReferenceOnlyContractsAndInfrastructure()
    {
        var services = Directory.GetFiles(Path.Combine(Root, "Services"), "*.csproj", SearchOption.AllDirectories);
        Assert.NotEmpty(services);

        foreach (var path in services)
        {
            foreach (var reference in Items(XDocument.Load(path), "ProjectReference"))
            {
                var name = Path.GetFileNameWithoutExtension(reference.Replace('\\', '/'));
                Assert.True(name is "PyAirtable.Contracts" or "PyAirtable.Services.Infrastructure",
                    $"{Path.GetFileName(path)} references {name}: a service talks to another only through its contract");
            }
        }
    }

    [Fact]
    public void Solution_IsClassicFormatAndListsEveryProject()
    {
        var solution = File.ReadAllText(Path.Combine(Root, "PyAirtable.sln"));
        var projects = Directory.GetFiles(Root, "*.csproj", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}.local{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(p => Path.GetFileName(p));

        Assert.StartsWith("Microsoft Visual Studio Solution File", solution.TrimStart('\uFEFF', '\r', '\n'), StringComparison.Ordinal);
        Assert.All(projects, p => Assert.Contains(p, solution, StringComparison.Ordinal));
    }

    private static XDocument Load(string relative) => XDocument.Load(Path.Combine(Root, relative));

    private static IEnumerable<string> Items(XDocument project, string item) =>
        project.Descendants(item).Select(e => (string?)e.Attribute("Include") ?? "");
}
