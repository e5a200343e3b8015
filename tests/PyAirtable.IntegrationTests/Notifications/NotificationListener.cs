using System.Collections.Concurrent;
using Grpc.Core;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Notifications;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Notifications;

/// <summary>A StreamNotifications call read in the background until disposed (the client hangs up).</summary>
public sealed class NotificationListener : IAsyncDisposable
{
    private readonly CancellationTokenSource _hangUp = new();
    private Task _pump = Task.CompletedTask;

    public ConcurrentQueue<StreamNotificationsResponse> Messages { get; } = new();

    public List<Notification> Notifications => Messages.Where(m => m.Notification is not null).Select(m => m.Notification!).ToList();

    public StreamNotificationsResponse First => Messages.First();

    public static async Task<NotificationListener> OpenAsync(TestHost host, TestUser user, StreamNotificationsRequest? request = null)
    {
        var stream = new NotificationListener();
        var context = new CallContext(new CallOptions(new Metadata { { "authorization", "Bearer " + user.Tokens.AccessToken } }, cancellationToken: stream._hangUp.Token));
        var service = host.Channel.CreateGrpcService<INotificationService>();
        stream._pump = Task.Run(async () =>
        {
            try
            {
                await foreach (var message in service.StreamNotificationsAsync(request ?? new StreamNotificationsRequest(), context))
                {
                    stream.Messages.Enqueue(message);
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled || stream._hangUp.IsCancellationRequested)
            {
                // We hung up. With many streams on one connection the client may report its own abort as UNAVAILABLE
                // ("the request was aborted") rather than CANCELLED: after a hang-up that is no failure either.
            }
            catch (OperationCanceledException)
            {
            }
        });
        await Eventually.TrueAsync(() => Task.FromResult(!stream.Messages.IsEmpty), "the stream's first message arrived");
        return stream;
    }

    public Task WaitForNotificationsAsync(int count, TimeSpan? timeout = null) =>
        Eventually.TrueAsync(() => Task.FromResult(Notifications.Count >= count), $"{count} notifications arrived (got {Notifications.Count})",
            timeout ?? TimeSpan.FromSeconds(20));

    public async ValueTask DisposeAsync()
    {
        await _hangUp.CancelAsync();
        await _pump;
        _hangUp.Dispose();
    }
}
