using System.Text.Json.Nodes;
using PyAirtable.Host.Gateway;
using PyAirtable.Host.Gateway.Rest;
using PyAirtable.Tools.Protos;
using PyAirtable.UnitTests.Deprecated.Contracts.Gadgets;

namespace PyAirtable.UnitTests;

/// <summary>
/// [ApiDeprecated] on a contract reaches every exported form: the proto <c>deprecated</c> option (which the descriptors
/// the host builds from the protos carry), the OpenAPI operations, and the JSON routes' deprecation.
/// </summary>
public sealed class DeprecationExportTests
{
    private static readonly Type[] Contracts = [typeof(IGadgetService), typeof(IGadgetAdminService)];

    [Fact]
    public void Export_DeprecatedServiceAndMethod_CarryTheDeprecatedOption()
    {
        var proto = Export()["pyairtable/gadgets/v1/gadgets.proto"];

        Assert.Contains("""
            service GadgetService {
              option deprecated = true;

              rpc GetGadget(GetGadgetRequest) returns (GetGadgetResponse);
            }
            """, proto, StringComparison.Ordinal);
        Assert.Contains("""
            service GadgetAdminService {
              rpc PeekGadget(PeekGadgetRequest) returns (PeekGadgetResponse) {
                option deprecated = true;
              }

              rpc PokeGadget(PokeGadgetRequest) returns (PokeGadgetResponse);
            }
            """, proto, StringComparison.Ordinal);
    }

    [Fact]
    public void Descriptors_OfTheExport_SayWhatIsDeprecated()
    {
        var service = Descriptors().SelectMany(f => f.Services).ToDictionary(s => s.Name);

        Assert.True(service["GadgetService"].GetOptions()?.Deprecated);
        Assert.NotEqual(true, service["GadgetAdminService"].GetOptions()?.Deprecated);
        Assert.True(service["GadgetAdminService"].FindMethodByName("PeekGadget").GetOptions()?.Deprecated);
        Assert.NotEqual(true, service["GadgetAdminService"].FindMethodByName("PokeGadget").GetOptions()?.Deprecated);
    }

    [Fact]
    public void OpenApi_DeprecatedOperationsOnly_AreMarkedDeprecated()
    {
        var paths = OpenApiDocument.Generate(Contracts, Descriptors())["paths"]!;

        Assert.True(paths["/v1/gadgets/{id}"]!["get"]!["deprecated"]!.GetValue<bool>());
        Assert.True(paths["/v1/admin/gadgets/{id}"]!["get"]!["deprecated"]!.GetValue<bool>());
        Assert.Null(paths["/v1/admin/gadgets/{id}:poke"]!["post"]!["deprecated"]);
    }

    [Fact]
    public void Routes_TakeTheirDeprecationFromTheMethodOrItsService()
    {
        var services = Descriptors().SelectMany(f => f.Services).ToDictionary(s => s.Name);
        var get = RestRouteTable.RoutesOf(typeof(IGadgetService), services["GadgetService"]).Single();
        var admin = RestRouteTable.RoutesOf(typeof(IGadgetAdminService), services["GadgetAdminService"]).ToDictionary(r => r.Method.Name);

        Assert.Equal("2027-01-31", get.Deprecated?.Sunset);
        Assert.Equal("pyairtable.gadgets.v2.GadgetService/GetGadget", admin["PeekGadget"].Deprecated?.Successor);
        Assert.Null(admin["PokeGadget"].Deprecated);
    }

    [Fact]
    public void CommittedDocument_UsersV1Deprecated_V2Current_OperationIdsUnique()
    {
        var document = JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "openapi", "pyairtable.openapi.json")))!;
        var operations = document["paths"]!.AsObject()
            .SelectMany(p => p.Value!.AsObject().Select(o => (Path: p.Key, Operation: o.Value!.AsObject()))).ToList();

        var ids = operations.Select(o => o.Operation["operationId"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        var users = operations.Where(o => Tag(o.Operation) == "pyairtable.users.v1.UserService").ToList();
        var usersV2 = operations.Where(o => Tag(o.Operation) == "pyairtable.users.v2.UserService").ToList();
        Assert.Equal(6, users.Count);
        Assert.Equal(6, usersV2.Count);
        Assert.All(users, o => Assert.True(o.Operation["deprecated"]?.GetValue<bool>()));
        Assert.All(usersV2, o => Assert.Null(o.Operation["deprecated"]));
        Assert.Contains("UserServiceV2_ListUsers", ids);
        Assert.DoesNotContain(operations, o => Tag(o.Operation) != "pyairtable.users.v1.UserService" && o.Operation["deprecated"] is not null);
    }

    private static string Tag(JsonObject operation) => operation["tags"]![0]!.GetValue<string>();

    private static IReadOnlyDictionary<string, string> Export() =>
        ProtoExporter.Export(Contracts, XmlDocs.For(typeof(DeprecationExportTests).Assembly));

    private static List<Google.Protobuf.Reflection.FileDescriptor> Descriptors() =>
        ContractReflection.LoadFiles(Export().Select(f => (f.Key, (Func<TextReader>)(() => new StringReader(f.Value)))));
}
