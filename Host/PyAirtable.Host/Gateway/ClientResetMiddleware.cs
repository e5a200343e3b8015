using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace PyAirtable.Host.Gateway;

/// <summary>
/// A client that resets its stream while the server is still reading the request makes Kestrel fail the read
/// with an IOException at once, while it signals the request's abort token later, from the thread pool.
/// grpc-dotnet treats an IOException as the caller leaving only when that token is already set, and otherwise
/// logs an error with a stack trace: any anonymous client could fill the logs by opening calls and resetting
/// them (seen as a flaky test under load). This wraps the request body so that a failed read waits (briefly)
/// for the abort to be signalled before the exception goes on; the call then ends as cancelled, logged at
/// Information.
/// </summary>
internal sealed class ClientResetMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true
            && context.Features.Get<IRequestBodyPipeFeature>() is { } body)
        {
            context.Features.Set<IRequestBodyPipeFeature>(new AbortOnFailedRead(body.Reader, context));
        }

        return next(context);
    }

    private sealed class AbortOnFailedRead(PipeReader inner, HttpContext context) : PipeReader, IRequestBodyPipeFeature
    {
        PipeReader IRequestBodyPipeFeature.Reader => this;

        /// <summary>
        /// An upper bound only: the wait ends as soon as the token is set, which is at once on a quiet box. Under thread-pool
        /// starvation the signal can take over a second, and then the error log this exists to avoid would be written.
        /// </summary>
        private static readonly TimeSpan AbortWait = TimeSpan.FromSeconds(5);

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await inner.ReadAsync(cancellationToken);
            }
            catch (IOException)
            {
                await AbortedAsync();
                throw;
            }
        }

        public override bool TryRead(out ReadResult result)
        {
            try
            {
                return inner.TryRead(out result);
            }
            catch (IOException)
            {
                AbortedAsync().GetAwaiter().GetResult();
                throw;
            }
        }

        /// <summary>Aborts the request (a no-op when Kestrel already did) and waits until its token says so.</summary>
        private async Task AbortedAsync()
        {
            context.Abort();
            var aborted = context.RequestAborted;
            if (aborted.IsCancellationRequested || !aborted.CanBeCanceled)
            {
                return;
            }

            var signalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (aborted.Register(() => signalled.TrySetResult()))
            {
                await Task.WhenAny(signalled.Task, Task.Delay(AbortWait));
            }
        }

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }
}
