using Microsoft.Extensions.Options;
using PyAirtable.Services.Infrastructure.SharedState;
using StackExchange.Redis;

namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>
/// The event stream in Redis: one stream per partition (<c>{InstanceName}events:{part}</c>), entries with the explicit id
/// <c>{seq}-0</c> and the fields <c>e</c> (the EventEnvelope, protobuf) and <c>p</c> (the position in the partition);
/// the consumers' partition leases and membership; the wake-up channel the relay publishes on.
/// </summary>
public sealed class RedisEventStore(IConnectionMultiplexer redis, IOptions<RedisOptions> redisOptions)
{
    public const string EnvelopeField = "e";
    public const string PositionField = "p";

    // Explicit ids make a re-publish idempotent: Redis refuses an id not above the stream's last, and the script counts
    // that as "already there". A script runs whole, so the partitions never see a batch half in, half out of order.
    private const string PublishScript =
        """
        local added = 0
        for i = 3, #ARGV, 4 do
          local key = KEYS[tonumber(ARGV[i]) + 1]
          local r = redis.pcall('XADD', key, 'MAXLEN', '~', ARGV[1], ARGV[i + 1], 'e', ARGV[i + 3], 'p', ARGV[i + 2])
          if type(r) == 'table' and r.err then
            if not string.find(r.err, 'equal or smaller', 1, true) then return redis.error_reply(r.err) end
          else
            added = added + 1
          end
        end
        if added > 0 then redis.call('PUBLISH', ARGV[2], added) end
        return added
        """;

    private const string RenewScript =
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";

    private const string ReleaseScript =
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

    private readonly string _prefix = redisOptions.Value.InstanceName + "events:";

    public IDatabase Database => redis.GetDatabase();

    public RedisChannel WakeChannel => RedisChannel.Literal(_prefix + "wake");

    public RedisKey StreamKey(short part) => _prefix + part.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Appends the events (in stream order) to their partitions; returns how many were new.</summary>
    public async Task<int> PublishAsync(IReadOnlyList<StoredEvent> events, int partitions, int maxLength)
    {
        var keys = Enumerable.Range(0, partitions).Select(p => StreamKey((short)p)).ToArray();
        var args = new List<RedisValue>(2 + events.Count * 4) { maxLength, _prefix + "wake" };
        foreach (var e in events)
        {
            using var buffer = new MemoryStream();
            ProtoBuf.Serializer.Serialize(buffer, e.ToEnvelope());
            args.Add(e.Part);
            args.Add($"{e.Seq}-0");
            args.Add(e.Pseq);
            args.Add(buffer.ToArray());
        }

        var result = await Database.ScriptEvaluateAsync(PublishScript, keys, [.. args]);
        return (int)result;
    }

    public static RedisKey LeaseKey(string prefix, string consumer, short part) => $"{prefix}lease:{consumer}:{part}";

    public RedisKey Lease(string consumer, short part) => LeaseKey(_prefix, consumer, part);

    public RedisKey Members(string consumer) => _prefix + "members:" + consumer;

    public Task<bool> TryAcquireAsync(string consumer, short part, string owner, TimeSpan duration) =>
        Database.StringSetAsync(Lease(consumer, part), owner, duration, When.NotExists);

    public async Task<bool> RenewAsync(string consumer, short part, string owner, TimeSpan duration) =>
        (long)await Database.ScriptEvaluateAsync(RenewScript, [Lease(consumer, part)], [owner, (long)duration.TotalMilliseconds]) == 1;

    public Task ReleaseAsync(string consumer, short part, string owner) =>
        Database.ScriptEvaluateAsync(ReleaseScript, [Lease(consumer, part)], [owner]);

    /// <summary>Records this host as a live member of the consumer; returns how many members are live.</summary>
    public async Task<long> HeartbeatAsync(string consumer, string owner, TimeSpan leaseDuration)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var key = Members(consumer);
        var db = Database;
        var add = db.SortedSetAddAsync(key, owner, now);
        var trim = db.SortedSetRemoveRangeByScoreAsync(key, double.NegativeInfinity, now - (long)leaseDuration.TotalMilliseconds);
        var count = db.SortedSetLengthAsync(key);
        await Task.WhenAll(add, trim, count);
        return Math.Max(1, await count);
    }

    public Task LeaveAsync(string consumer, string owner) => Database.SortedSetRemoveAsync(Members(consumer), owner);

    /// <summary>The stream position of an entry id <c>{seq}-0</c>.</summary>
    public static long SequenceOf(RedisValue id)
    {
        var text = (string)id!;
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        return long.Parse(dash < 0 ? text : text[..dash], System.Globalization.CultureInfo.InvariantCulture);
    }
}
