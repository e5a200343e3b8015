using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using PyAirtable.IntegrationTests.Infrastructure;
using V1 = Grpc.Reflection.V1;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace PyAirtable.IntegrationTests.Health;

/// <summary>Server reflection as a grpcurl-style client uses it, over a real channel.</summary>
public sealed class ReflectionTests(HostFixture hostFixture) : HostTests(hostFixture)
{
    [Fact]
    public async Task V1_ListServices_IncludesCodeFirstServicesHealthAndReflection()
    {
        var response = await AskV1(new V1.ServerReflectionRequest { ListServices = "" });

        var names = response.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("pyairtable.health.v1.HealthService", names);
        Assert.Contains("grpc.health.v1.Health", names);
        Assert.Contains("grpc.reflection.v1.ServerReflection", names);
        Assert.Contains("grpc.reflection.v1alpha.ServerReflection", names);
    }

    [Fact]
    public async Task V1_FileContainingSymbol_DescribesTheServiceAndItsDependencies()
    {
        var response = await AskV1(new V1.ServerReflectionRequest { FileContainingSymbol = "pyairtable.health.v1.HealthService" });

        var files = response.FileDescriptorResponse.FileDescriptorProto.Select(b => FileDescriptorProto.Parser.ParseFrom(b)).ToList();
        var health = Assert.Single(files, f => f.Name == "pyairtable/health/v1/health.proto");
        Assert.Equal("pyairtable.health.v1", health.Package);
        var service = Assert.Single(health.Service);
        Assert.Equal(["Check", "ListCircuitBreakers", "Watch"], service.Method.Select(m => m.Name));
        Assert.True(service.Method.Single(m => m.Name == "Watch").ServerStreaming);
        Assert.Contains(files, f => f.Name == "pyairtable/common/v1/common.proto");
    }

    [Fact]
    public async Task V1_FileContainingMessageSymbol_Works()
    {
        var response = await AskV1(new V1.ServerReflectionRequest { FileContainingSymbol = "pyairtable.common.v1.PaginationRequest" });

        var files = response.FileDescriptorResponse.FileDescriptorProto.Select(b => FileDescriptorProto.Parser.ParseFrom(b));
        var common = Assert.Single(files, f => f.Name == "pyairtable/common/v1/common.proto");
        var pagination = common.MessageType.Single(m => m.Name == "PaginationRequest");
        Assert.Equal(["page", "page_size", "cursor"], pagination.Field.Select(f => f.Name));
        Assert.True(pagination.Field.Single(f => f.Name == "cursor").Proto3Optional);
    }

    [Fact]
    public async Task V1Alpha_ListServices_IncludesCodeFirstServices()
    {
        var client = new V1Alpha.ServerReflection.ServerReflectionClient(Fixture.Host.Channel);
        using var call = client.ServerReflectionInfo(deadline: DateTime.UtcNow.AddSeconds(10));
        await call.RequestStream.WriteAsync(new V1Alpha.ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext());

        Assert.Contains(call.ResponseStream.Current.ListServicesResponse.Service, s => s.Name == "pyairtable.health.v1.HealthService");
    }

    [Fact]
    public async Task V1_UnknownSymbol_IsNotFoundInTheResponse()
    {
        var response = await AskV1(new V1.ServerReflectionRequest { FileContainingSymbol = "pyairtable.nope.v1.Nope" });

        Assert.Equal((int)StatusCode.NotFound, response.ErrorResponse.ErrorCode);
    }

    private async Task<V1.ServerReflectionResponse> AskV1(V1.ServerReflectionRequest request)
    {
        var client = new V1.ServerReflection.ServerReflectionClient(Fixture.Host.Channel);
        using var call = client.ServerReflectionInfo(deadline: DateTime.UtcNow.AddSeconds(10));
        await call.RequestStream.WriteAsync(request);
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext());
        return call.ResponseStream.Current;
    }
}
