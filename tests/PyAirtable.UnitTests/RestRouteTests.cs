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
