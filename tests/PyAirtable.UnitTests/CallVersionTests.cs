using PyAirtable.Services.Analytics.Recording;

namespace PyAirtable.UnitTests;

/// <summary>Which API version an analytics record names (the version share of a method).</summary>
public sealed class CallVersionTests
{
    [Theory]
    [InlineData("/pyairtable.users.v2.UserService/GetUser", "v2")]
    [InlineData("/pyairtable.users.v1.UserService/GetUser", "v1")]
    [InlineData("/grpc.health.v1.Health/Check", "v1")]
    [InlineData("/pyairtable.files.v1alpha1.FileService/Upload", "v1alpha1")]
    [InlineData("/v1/bases", "v1")]
    [InlineData("/v1/bases/123", "v1")]
    [InlineData("/v10/bases", "v10")]
    [InlineData("/V1/bases", "")]
    [InlineData("/health", "")]
    [InlineData("/a.b/c", "")]
    [InlineData("/x.v3.Y/Z/extra", "")]
    [InlineData("//pyairtable.users.v2.UserService//GetUser", "v2")]
    [InlineData("/", "")]
    [InlineData("", "")]
    public void VersionOf_NamesThePackagesOrTheRoutesVersion(string endpoint, string version) =>
        Assert.Equal(version, CallRow.VersionOf(endpoint));
}
