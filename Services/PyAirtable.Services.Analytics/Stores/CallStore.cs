using NpgsqlTypes;
using PyAirtable.Services.Analytics.Recording;

namespace PyAirtable.Services.Analytics.Stores;

/// <summary>Recorded calls (analytics.calls), written in batches with binary COPY.</summary>
internal sealed class CallStore(AnalyticsSession session)
{
    public async Task InsertAsync(IReadOnlyList<CallRow> rows, CancellationToken ct)
    {
        await using var import = await session.Connection.BeginBinaryImportAsync(
            "COPY analytics.calls (recorded_at, endpoint, method, protocol, status_code, is_error, duration_us, user_id, workspace_id, source, "
            + "transport, api_version) FROM STDIN (FORMAT BINARY)",
            ct);
        foreach (var row in rows)
        {
            await import.StartRowAsync(ct);
            await import.WriteAsync(row.RecordedAt, NpgsqlDbType.TimestampTz, ct);
            await import.WriteAsync(row.Endpoint, NpgsqlDbType.Text, ct);
            await import.WriteAsync((short)row.Method, NpgsqlDbType.Smallint, ct);
            await import.WriteAsync((short)row.Protocol, NpgsqlDbType.Smallint, ct);
            await import.WriteAsync(row.StatusCode, NpgsqlDbType.Integer, ct);
            await import.WriteAsync(row.IsError, NpgsqlDbType.Boolean, ct);
            await import.WriteAsync(row.DurationMicros, NpgsqlDbType.Bigint, ct);
            await WriteNullableAsync(import, row.UserId, ct);
            await WriteNullableAsync(import, row.WorkspaceId, ct);
            await import.WriteAsync((short)row.Source, NpgsqlDbType.Smallint, ct);
            await import.WriteAsync((short)row.Transport, NpgsqlDbType.Smallint, ct);
            await import.WriteAsync(row.ApiVersion, NpgsqlDbType.Text, ct);
        }

        await import.CompleteAsync(ct);
    }

    private static Task WriteNullableAsync(Npgsql.NpgsqlBinaryImporter import, Guid? value, CancellationToken ct) =>
        value is { } id ? import.WriteAsync(id, NpgsqlDbType.Uuid, ct) : import.WriteNullAsync(ct);
}
