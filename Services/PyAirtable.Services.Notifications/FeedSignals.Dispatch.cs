using Microsoft.Extensions.Logging;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Notifications.Stores;

namespace PyAirtable.Services.Notifications;

/// <summary>
/// The dispatch loop: per wake-up, one feed read for many users and one permission batch for what it found, instead of a
/// read and a check per stream. Nothing is cached between wake-ups: each row is checked when it is handed over, against
/// the grants of that moment, so a removed member stops receiving at once.
/// </summary>
public sealed partial class FeedSignals
{
    /// <summary>Users per feed query and permission batch (a batch takes at most 5,000 checks: distinct resources per user).</summary>
    private const int UsersPerRead = 500;

    /// <summary>Reads and permission batches in flight at once.</summary>
    private const int ParallelReads = 4;

    private const string ServiceName = "notifications";
    // Checks need no scope; the token is limited to reading anyway, should it ever be used for more.
    private static readonly string[] ServiceScopes = [PyAirtable.Contracts.Auth.Scopes.WorkspacesRead];

    private IServiceTokenIssuer? _serviceToken;
    private bool _checkPerStream;

    private async Task DispatchLoopAsync(CancellationToken stopping)
    {
        var nextPoll = DateTime.UtcNow + options.Value.PollInterval;
        while (!stopping.IsCancellationRequested)
        {
            var wait = nextPoll - DateTime.UtcNow;
            bool woken;
            try
            {
                woken = wait > TimeSpan.Zero && await _work.WaitAsync(wait, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            List<Guid> users;
            lock (_streams)
            {
                if (!woken)
                {
                    // The poll: every open feed, for a signal that never came (Redis away, a lost message).
                    nextPoll = DateTime.UtcNow + options.Value.PollInterval;
                    _due.UnionWith(_streams.Keys);
                }

                users = [.. _due];
                _due.Clear();
            }

            if (users.Count == 0)
            {
                continue;
            }

            try
            {
                var parallel = new ParallelOptions { MaxDegreeOfParallelism = ParallelReads, CancellationToken = stopping };
                await Parallel.ForEachAsync(users.Chunk(UsersPerRead), parallel,
                    async (chunk, ct) => await DispatchAsync(chunk, ct));
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // PostgreSQL or the Permission service away: the users are due again, tried at the next poll at the latest.
                LogDispatchFailed(logger, $"{ex.GetType().Name}: {ex.Message}");
                lock (_streams)
                {
                    _due.UnionWith(users.Where(_streams.ContainsKey));
                }

                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), stopping);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>Reads, checks and hands over the new rows of <paramref name="users"/>.</summary>
    private async Task DispatchAsync(Guid[] users, CancellationToken ct)
    {
        // Each user's streams that may take rows now, and the oldest offset one of them has been handed.
        var ready = new Dictionary<Guid, Subscription[]>(users.Length);
        lock (_streams)
        {
            foreach (var user in users)
            {
                if (_streams.TryGetValue(user, out var set) && set.Where(s => s.Ready).ToArray() is { Length: > 0 } subscriptions)
                {
                    ready[user] = subscriptions;
                }
            }
        }

        if (ready.Count == 0)
        {
            return;
        }

        var asked = ready.Keys.ToArray();
        var after = asked.Select(u => ready[u].Min(s => s.Through)).ToArray();
        List<InboxRow> rows;
        await using (var db = await NotificationSession.OpenAsync(dataSource, ct))
        {
            rows = await db.Feeds.ReadAfterManyAsync(asked, after, ReadBatch, ct);
        }

        if (rows.Count == 0)
        {
            return;
        }

        var verdicts = _checkPerStream ? null : await VisibleAsync(rows, ct);
        var more = new List<Guid>();
        var start = 0;
        while (start < rows.Count)
        {
            var user = rows[start].UserId;
            var end = start;
            while (end < rows.Count && rows[end].UserId == user)
            {
                end++;
            }

            if (end - start == ReadBatch)
            {
                more.Add(user); // a full read: there may be more, read them once the streams took these
            }

            foreach (var subscription in ready[user])
            {
                var first = start;
                while (first < end && rows[first].Offset <= subscription.Through)
                {
                    first++;
                }

                if (first < end)
                {
                    subscription.Hand(new Batch(rows[first..end], verdicts?[first..end]));
                }
            }

            start = end;
        }

        if (more.Count > 0)
        {
            Wake(more);
        }
    }

    /// <summary>
    /// Whether each row's user may read, now, what it is about: one BatchCheckPermission (as this service, for many users)
    /// per distinct (user, resource). A deleted workspace's notification goes to those who were members.
    /// </summary>
    private async Task<bool[]> VisibleAsync(List<InboxRow> rows, CancellationToken ct)
    {
        var result = new bool[rows.Count];
        var index = new Dictionary<(Guid User, ResourceType Type, Guid Id), int>();
        var checks = new List<CheckItem>();
        var of = new int[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            if (row.EventType == EventTypes.NameOf<WorkspaceDeleted>())
            {
                result[i] = true;
                of[i] = -1;
                continue;
            }

            var (type, id) = NotificationService.ResourceOf(row);
            (Guid User, ResourceType Type, Guid Id) key = (row.UserId, type, id);
            if (!index.TryGetValue(key, out var k))
            {
                index[key] = k = checks.Count;
                checks.Add(new CheckItem
                {
                    UserId = row.UserId.ToString(), Resource = new ResourceRef { Type = key.Type, Id = key.Id.ToString() },
                    Level = PermissionLevel.Read,
                });
            }

            of[i] = k;
        }

        var allowed = new bool[checks.Count];
        for (var start = 0; start < checks.Count; start += 5000)
        {
            var part = checks.GetRange(start, Math.Min(5000, checks.Count - start));
            var context = await ServiceCalls.ContextAsync(_serviceToken, ServiceName, ServiceScopes, ct);
            var response = await permissions.BatchCheckPermissionAsync(new BatchCheckPermissionRequest { Checks = part }, context);
            for (var j = 0; j < part.Count; j++)
            {
                allowed[start + j] = response.Results[j].Allowed;
            }
        }

        for (var i = 0; i < rows.Count; i++)
        {
            if (of[i] >= 0)
            {
                result[i] = allowed[of[i]];
            }
        }

        return result;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification streams: reading feeds failed, tried again: {Reason}")]
    private static partial void LogDispatchFailed(ILogger logger, string reason);
}
