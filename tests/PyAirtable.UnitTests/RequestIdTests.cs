using Microsoft.Extensions.Primitives;
using PyAirtable.Host.Gateway;

namespace PyAirtable.UnitTests;

public sealed class RequestIdTests
{
    [Theory]
    [InlineData("abc-123")]
    [InlineData("01J9Z3:trace/span+x=y")]
    [InlineData("5f0c9e0b8a0c4f5e9d7d2a6b1c3e4f50")]
    public void AcceptRequestId_SafeValue_IsKept(string value)
    {
        Assert.Equal(value, RequestContextMiddleware.AcceptRequestId(new StringValues(value)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("with space")]
    [InlineData("new\nline")]
    [InlineData("quote\"")]
    [InlineData("ünïcode")]
    public void AcceptRequestId_UnsafeValue_IsReplaced(string value)
    {
        Assert.Null(RequestContextMiddleware.AcceptRequestId(new StringValues(value)));
    }

    [Fact]
    public void AcceptRequestId_TooLongOrRepeated_IsReplaced()
    {
        Assert.Null(RequestContextMiddleware.AcceptRequestId(new StringValues(new string('a', 129))));
        Assert.Null(RequestContextMiddleware.AcceptRequestId(new StringValues(["a", "b"])));
        Assert.NotNull(RequestContextMiddleware.AcceptRequestId(new StringValues(new string('a', 128))));
    }
}
