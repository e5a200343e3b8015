using PyAirtable.Services.Analytics;

namespace PyAirtable.UnitTests;

/// <summary>The percentile math every analytics query uses, and the precision the README promises for it.</summary>
public sealed class LatencyHistogramTests
{
    [Fact]
    public void Bounds_StartAtZero_AreAscending_AndEachBucketAtMostTenPercentWide()
    {
        var bounds = LatencyHistogram.LowerBounds;

        Assert.Equal(0, bounds[0]);
        Assert.Equal(10, bounds[1]);
        for (var i = 2; i < bounds.Length; i++)
        {
            Assert.True(bounds[i] > bounds[i - 1]);
            Assert.True(bounds[i] <= bounds[i - 1] * 1.1 + 1e-9, $"bucket {i - 1} [{bounds[i - 1]}, {bounds[i]}) is wider than 10 %");
        }

        Assert.True(bounds[^1] >= 100_000_000); // the open last bucket starts at 100 s or later
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(9, 0)]
    [InlineData(10, 1)]
    [InlineData(11, 2)]
    [InlineData(-5, 0)]
    public void BucketOf_FindsTheBucketWhoseLowerBoundIsAtOrBelow(long micros, int bucket) =>
        Assert.Equal(bucket, LatencyHistogram.BucketOf(micros));

    [Fact]
    public void BucketOf_PastTheLastBound_IsTheOpenLastBucket() =>
        Assert.Equal(LatencyHistogram.BucketCount - 1, LatencyHistogram.BucketOf(long.MaxValue));

    [Fact]
    public void Percentile_WithoutCalls_IsNull() => Assert.Null(new LatencyHistogram().Percentile(0.5));

    [Theory]
    [InlineData(0.50)]
    [InlineData(0.95)]
    [InlineData(0.99)]
    [InlineData(1.00)]
    public void Percentile_OfUniformLatencies_IsWithinTenPercentOfTheTrueValue(double quantile)
    {
        var histogram = new LatencyHistogram();
        var values = Enumerable.Range(1, 10_000).Select(i => i * 37L).ToArray(); // 37 µs … 370 ms
        foreach (var v in values)
        {
            histogram.Add(v);
        }

        var truth = values[(int)Math.Ceiling(quantile * values.Length) - 1];
        var estimate = histogram.Percentile(quantile)!.Value.TotalMicroseconds;

        Assert.InRange(estimate, truth * 0.9, truth * 1.1);
    }

    [Fact]
    public void Percentile_OfSkewedLatencies_KeepsTheTailApart()
    {
        // 98 fast calls (2 ms) and 2 slow ones (800 ms): p50 and p95 are fast, p99 is slow.
        var histogram = new LatencyHistogram();
        for (var i = 0; i < 98; i++)
        {
            histogram.Add(2_000);
        }

        histogram.Add(800_000);
        histogram.Add(800_000);

        Assert.InRange(histogram.Percentile(0.50)!.Value.TotalMilliseconds, 1.8, 2.2);
        Assert.InRange(histogram.Percentile(0.95)!.Value.TotalMilliseconds, 1.8, 2.2);
        Assert.InRange(histogram.Percentile(0.99)!.Value.TotalMilliseconds, 720, 880);
    }

    [Fact]
    public void Merge_GivesTheSamePercentilesAsOneHistogramOfAllCalls()
    {
        var all = new LatencyHistogram();
        var left = new LatencyHistogram();
        var right = new LatencyHistogram();
        var random = new Random(7);
        for (var i = 0; i < 5_000; i++)
        {
            var v = (long)(random.NextDouble() * random.NextDouble() * 2_000_000);
            all.Add(v);
            (i % 3 == 0 ? left : right).Add(v);
        }

        left.Merge(right);

        Assert.Equal(all.Count, left.Count);
        foreach (var q in new[] { 0.5, 0.95, 0.99 })
        {
            Assert.Equal(all.Percentile(q), left.Percentile(q));
        }
    }

    [Fact]
    public void AddBucket_FromRollupRows_CountsLikeAddingEachCall()
    {
        var rows = new LatencyHistogram();
        var calls = new LatencyHistogram();
        rows.AddBucket(LatencyHistogram.BucketOf(5_000), 3);
        rows.AddBucket(LatencyHistogram.BucketOf(50_000), 1);
        calls.Add(5_000);
        calls.Add(5_000);
        calls.Add(5_000);
        calls.Add(50_000);

        Assert.Equal(calls.Percentile(0.5), rows.Percentile(0.5));
        Assert.Equal(calls.Percentile(0.99), rows.Percentile(0.99));
    }

    [Fact]
    public void Percentile_InTheOpenLastBucket_IsItsLowerBound()
    {
        var histogram = new LatencyHistogram();
        histogram.Add(long.MaxValue / 2);

        Assert.Equal(TimeSpan.FromMicroseconds(LatencyHistogram.LowerBounds[^1]), histogram.Percentile(0.99));
    }

    [Fact]
    public void Percentile_OutsideZeroToOne_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new LatencyHistogram().Percentile(1.5));
}
