using Microsoft.Extensions.Options;
using PyAirtable.Services.Infrastructure.SharedState;
using StackExchange.Redis;

namespace PyAirtable.Services.Infrastructure.Events;

/// <summary>
/// The event stream in Redis: one stream per partition (<c>{InstanceName}events:{part}</c>), entries with the explicit id
/// <c>{seq}-0</c> and the fields <c>e</c> (the EventEnvelope, protobuf) and <c>p</c> (the position in the partition),
/// and the wake-up channel the relay publishes on.
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
}
