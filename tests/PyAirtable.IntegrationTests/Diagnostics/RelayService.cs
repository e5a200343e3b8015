using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Configuration;

namespace PyAirtable.IntegrationTests.Diagnostics;

/// <summary>A test-only service that calls IDiagnosticsService, wherever that is bound.</summary>
[Service("pyairtable.testing.v1.RelayService")]
public interface IRelayService
{
    ValueTask<EchoResponse> EchoAsync(EchoRequest request, CallContext context = default);

    ValueTask<FailResponse> FailAsync(FailRequest request, CallContext context = default);

    ValueTask<SleepResponse> SleepAsync(SleepRequest request, CallContext context = default);
}

/// <summary>Passes nothing of its own call on: the platform must carry request id, deadline and cancellation.</summary>
[Microsoft.AspNetCore.Authorization.AllowAnonymous]
public sealed class RelayService(IDiagnosticsService diagnostics) : IRelayService
{
    public ValueTask<EchoResponse> EchoAsync(EchoRequest request, CallContext context = default) => diagnostics.EchoAsync(request);

    public ValueTask<FailResponse> FailAsync(FailRequest request, CallContext context = default) => diagnostics.FailAsync(request);

    public ValueTask<SleepResponse> SleepAsync(SleepRequest request, CallContext context = default) => diagnostics.SleepAsync(request);
}
