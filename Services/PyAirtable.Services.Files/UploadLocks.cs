using System.Collections.Concurrent;

namespace PyAirtable.Services.Files;

/// <summary>
/// One append (or completion) at a time per resumable upload on this host: the staged file has one writer. A second
/// caller waits a few seconds (the first may be a stream whose connection just died and is still winding down).
/// </summary>
internal sealed class UploadLocks
{
    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _gates = new();

    public async Task<IDisposable?> TryEnterAsync(Guid uploadId, TimeSpan wait, CancellationToken ct)
    {
        var gate = _gates.GetOrAdd(uploadId, _ => new SemaphoreSlim(1, 1));
        return await gate.WaitAsync(wait, ct) ? new Release(gate) : null;
    }

    /// <summary>The upload is gone: drop its gate (a late waiter gets a fresh one and finds no upload).</summary>
    public void Forget(Guid uploadId) => _gates.TryRemove(uploadId, out _);

    private sealed class Release(SemaphoreSlim gate) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}
