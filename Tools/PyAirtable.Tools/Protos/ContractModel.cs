using System.Reflection;
using Grpc.Core;
using ProtoBuf.Grpc.Configuration;

namespace PyAirtable.Tools.Protos;

/// <summary>One RPC exactly as protobuf-net.Grpc binds it on the server.</summary>
public sealed record BoundMethod(string ServiceName, string Name, MethodType Type, Type RequestType, Type ResponseType, MethodInfo? Source);

/// <summary>
/// Classifies methods with protobuf-net.Grpc's own server binder, so the exported service is the
/// served one (names without Async, streaming kinds, request/response types).
/// </summary>
public sealed class RecordingBinder : ServerBinder
{
    private readonly List<BoundMethod> _methods = [];

    public static IReadOnlyList<BoundMethod> Bind(Type serviceContract)
    {
        var binder = new RecordingBinder();
        binder.Bind(state: binder, serviceType: serviceContract, binderConfiguration: null, service: null);
        return binder._methods;
    }

    protected override bool TryBind<TService, TRequest, TResponse>(ServiceBindContext bindContext, Method<TRequest, TResponse> method, MethodStub<TService> stub)
        where TService : class
        where TRequest : class
        where TResponse : class
    {
        _methods.Add(new BoundMethod(method.ServiceName, method.Name, method.Type, typeof(TRequest), typeof(TResponse), stub.Method));
        return true;
    }
}
