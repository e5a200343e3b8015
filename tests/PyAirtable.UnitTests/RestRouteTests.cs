using PyAirtable.Contracts.Users;
using PyAirtable.Host.Gateway.Rest;

namespace PyAirtable.UnitTests;

public sealed class RestRouteTests
{
    [Fact]
    public void BoundMethods_OfAContract_AreTheServedNamesWithTheirMethods()
    {
        var bound = BoundMethods.Of(typeof(IUserService));
        Assert.Contains(bound, b => b.Name == "GetUser" && b.Method.Name == nameof(IUserService.GetUserAsync));
        Assert.All(bound, b => Assert.Equal(typeof(IUserService), b.Method.DeclaringType));
        var route = System.Reflection.CustomAttributeExtensions.GetCustomAttribute<PyAirtable.Contracts.Common.HttpRouteAttribute>(
            bound.Single(b => b.Name == "GetUser").Method);
        Assert.Equal("/v1/users/{user_id}", route?.Path);
    }
}

public sealed class OpenApiGateTests
{
    private const string Before = """
        {"paths": {"/v1/users/{user_id}": {"get": {"operationId": "UserService_GetUser"}}},
         "components": {"schemas": {"pyairtable.users.v1.User": {"properties": {"id": {"type": "string"}, "etag": {"type": "string"}}}}}}
        """;

    [Fact]
    public void Breaks_AdditionsOnly_None()
    {
        var after = Before.Replace("\"etag\": {\"type\": \"string\"}", "\"etag\": {\"type\": \"string\", \"description\": \"x\"}, \"new\": {\"type\": \"boolean\"}",
            StringComparison.Ordinal);
        Assert.Empty(PyAirtable.Tools.OpenApiCommand.Breaks(Before, after));
    }

    [Fact]
    public void Breaks_RemovedRouteRemovedPropertyChangedType_AllReported()
    {
        var after = """
            {"paths": {"/v1/people/{user_id}": {"get": {"operationId": "UserService_GetUser"}}},
             "components": {"schemas": {"pyairtable.users.v1.User": {"properties": {"id": {"type": "integer"}}}}}}
            """;
        var breaks = PyAirtable.Tools.OpenApiCommand.Breaks(Before, after);
        Assert.Contains(breaks, b => b.StartsWith("GET /v1/users/{user_id}", StringComparison.Ordinal));
        Assert.Contains(breaks, b => b.Contains("User.etag was removed", StringComparison.Ordinal));
        Assert.Contains(breaks, b => b.Contains("User.id changed", StringComparison.Ordinal));
    }
}
