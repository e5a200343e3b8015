using System.Collections.Frozen;
using System.Reflection;
using ProtoBuf.Grpc;
using PyAirtable.Services.Infrastructure.Identity;

namespace PyAirtable.Services.Infrastructure.Contracts;

/// <summary>
/// The in-process binding of a contract whose implementation declares scopes. Another service in this process
/// resolves the contract and calls the implementation object directly, so the gateway's authorization — which
/// reads <see cref="RequiresScopeAttribute"/> from the endpoint — never runs for that call. This proxy reads the
/// same attributes (<see cref="ImplementationMetadata.RequiredScopes"/>) and refuses the same way before the
/// implementation runs: a scope is declared once, on the implementing method, and holds on both paths.
/// </summary>
/// <remarks>
/// A refusal is returned the way a remote call of the contract would fail — a faulted task, or a stream that fails
/// when first read — so a caller sees the same behaviour whether the contract is bound here or on another host.
/// </remarks>
#pragma warning disable CA1852 // DispatchProxy derives its proxy type from this class at run time: it cannot be sealed
internal class ScopeCheckingProxy<TContract> : DispatchProxy
#pragma warning restore CA1852
    where TContract : class
{
    private TContract _target = null!;
    private FrozenDictionary<RuntimeMethodHandle, Guard> _guards = FrozenDictionary<RuntimeMethodHandle, Guard>.Empty;

    /// <summary><paramref name="target"/> behind a proxy that checks scopes, or itself when none of its methods declares one.</summary>
    public static TContract Wrap<TImplementation>(TImplementation target)
        where TImplementation : class, TContract
    {
        ArgumentNullException.ThrowIfNull(target);
        var guards = GuardsOf(typeof(TImplementation));
        if (guards.Count == 0)
        {
            return target; // nothing to enforce: no indirection on every call
        }

        var proxy = Create<TContract, ScopeCheckingProxy<TContract>>();
        var self = (ScopeCheckingProxy<TContract>)(object)proxy;
        self._target = target;
        self._guards = guards;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (_guards.TryGetValue(targetMethod.MethodHandle, out var guard)
            && (args![guard.ContextIndex] is CallContext context ? context : default).ScopeRefusal(guard.Scopes) is { } refusal)
        {
            return guard.Refuse(refusal);
        }

        return targetMethod.Invoke(_target, BindingFlags.DoNotWrapExceptions, binder: null, args, culture: null);
    }

    private static FrozenDictionary<RuntimeMethodHandle, Guard> GuardsOf(Type implementation)
    {
        var guards = new Dictionary<RuntimeMethodHandle, Guard>();
        foreach (var contract in typeof(TContract).GetInterfaces().Append(typeof(TContract)))
        {
            var map = implementation.GetInterfaceMap(contract);
            for (var i = 0; i < map.InterfaceMethods.Length; i++)
            {
                var scopes = ImplementationMetadata.RequiredScopes(implementation, map.TargetMethods[i]);
                if (scopes.Length == 0)
                {
                    continue;
                }

                var method = map.InterfaceMethods[i];
                var contextIndex = Array.FindIndex(method.GetParameters(), p => p.ParameterType == typeof(CallContext));
                if (contextIndex < 0)
                {
                    throw new InvalidOperationException($"{contract.Name}.{method.Name} requires a scope but takes no CallContext, " +
                        "so its caller cannot be checked in process.");
                }

                guards[method.MethodHandle] = new Guard(scopes, contextIndex, RefusalFor(method.ReturnType));
            }
        }

        return guards.ToFrozenDictionary();
    }

    /// <summary>How a method returning <paramref name="returnType"/> fails without running: as a remote call of it would.</summary>
    private static Func<Exception, object?> RefusalFor(Type returnType)
    {
        if (returnType.IsGenericType)
        {
            var shape = returnType.GetGenericTypeDefinition();
            var helper = shape == typeof(ValueTask<>) ? nameof(FaultedValueTask)
                : shape == typeof(Task<>) ? nameof(FaultedTask)
                : shape == typeof(IAsyncEnumerable<>) ? nameof(FaultedStream)
                : null;
            if (helper is not null)
            {
                return typeof(ScopeCheckingProxy<TContract>).GetMethod(helper, BindingFlags.NonPublic | BindingFlags.Static)!
                    .MakeGenericMethod(returnType.GetGenericArguments())
                    .CreateDelegate<Func<Exception, object?>>();
            }
        }

        if (returnType == typeof(ValueTask))
        {
#pragma warning disable CA2012 // handed to the caller (boxed, as DispatchProxy returns object), who awaits it once
            return error => ValueTask.FromException(error);
#pragma warning restore CA2012
        }

        if (returnType == typeof(Task))
        {
            return Task.FromException;
        }

        return error => throw error; // a synchronous contract method fails at the call
    }

    // These return object because each becomes a Func<Exception, object?>: DispatchProxy.Invoke returns the result boxed.
#pragma warning disable CA1859, CA2012 // the boxed ValueTask goes to the caller, who awaits it once
    private static object? FaultedValueTask<T>(Exception error) => ValueTask.FromException<T>(error);

    private static object? FaultedTask<T>(Exception error) => Task.FromException<T>(error);

    private static object? FaultedStream<T>(Exception error) => new FailingStream<T>(error);
#pragma warning restore CA1859, CA2012

    private sealed record Guard(string[] Scopes, int ContextIndex, Func<Exception, object?> Refuse);

    /// <summary>A stream whose first read fails, as a refused server-streaming call does.</summary>
    private sealed class FailingStream<T>(Exception error) : IAsyncEnumerable<T>, IAsyncEnumerator<T>
    {
        public T Current => throw new InvalidOperationException("The stream failed before its first item.");

        public IAsyncEnumerator<T> GetAsyncEnumerator(CancellationToken cancellationToken = default) => this;

        public ValueTask<bool> MoveNextAsync() => ValueTask.FromException<bool>(error);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
