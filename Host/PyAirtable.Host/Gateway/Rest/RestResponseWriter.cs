using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Google.Protobuf;
using Google.Rpc;
using Microsoft.AspNetCore.Http.Features;

namespace PyAirtable.Host.Gateway.Rest;

/// <summary>
/// Turns the gRPC handler's frames and status into the JSON/HTTP response: one JSON object (unary), newline-delimited
/// JSON or Server-Sent Events (server streams, each message as it is written), or a google.rpc.Status error body with
/// the HTTP status grpc-gateway gives the code. A stream that fails after its first message ends with an error record.
/// </summary>
internal sealed class RestResponseWriter(HttpContext context, RestRoute route, IHttpResponseBodyFeature body, bool sse)
{
    private readonly List<byte[]> _unary = [];
    private bool _started;
    private bool _clientGone;

    private static readonly JsonFormatter StatusFormatter = new(JsonFormatter.Settings.Default.WithTypeRegistry(Google.Protobuf.Reflection.TypeRegistry.FromMessages(
        ErrorInfo.Descriptor, BadRequest.Descriptor, RetryInfo.Descriptor, PreconditionFailure.Descriptor, QuotaFailure.Descriptor,
        ResourceInfo.Descriptor, DebugInfo.Descriptor, Help.Descriptor, LocalizedMessage.Descriptor, RequestInfo.Descriptor)));

    public async Task PumpAsync(PipeReader reader)
    {
        while (true)
        {
            var result = await reader.ReadAsync();
            var buffer = result.Buffer;
            while (GrpcFrames.TryRead(ref buffer, out var message))
            {
                await OnMessageAsync(message.ToArray());
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                await reader.CompleteAsync();
                return;
            }
        }
    }

    private async Task OnMessageAsync(byte[] message)
    {
        if (!route.ServerStreaming)
        {
            _unary.Add(message);
            return;
        }

        if (_clientGone)
        {
            return; // keep draining so the handler is never blocked on a full pipe; the abort ends it
        }

        try
        {
            if (!_started)
            {
                StartStream();
                await body.StartAsync(context.RequestAborted);
            }

            await WriteRecordAsync(json => ProtoJsonWriter.Write(json, route.Method.OutputType, message), isError: false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            _clientGone = true;
        }
    }

    private void StartStream()
    {
        _started = true;
        var response = context.Response;
        RemoveGrpcHeaders(response.Headers);
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = sse ? "text/event-stream" : "application/x-ndjson";
        response.Headers.CacheControl = "no-cache";
    }

    private async Task WriteRecordAsync(Action<Utf8JsonWriter> write, bool isError)
    {
        var buffer = new ArrayBufferWriter<byte>();
        await using (var json = new Utf8JsonWriter(buffer))
        {
            write(json);
        }

        var output = body.Writer;
        if (sse)
        {
            output.Write(isError ? "event: error\ndata: "u8 : "data: "u8);
            output.Write(buffer.WrittenSpan);
            output.Write("\n\n"u8);
        }
        else
        {
            output.Write(buffer.WrittenSpan);
            output.Write("\n"u8);
        }

        await output.FlushAsync(context.RequestAborted);
    }

    /// <summary>Called after the gRPC call ended: writes the unary result or the error, or closes the stream.</summary>
    public async Task FinishAsync(IHeaderDictionary trailers)
    {
        if (_clientGone)
        {
            return;
        }

        var response = context.Response;
        var (code, message, details) = ReadStatus(trailers, response.Headers);
        if (_started)
        {
            if (code != 0)
            {
                await WriteRecordAsync(json => WriteError(json, code, message, details, wrap: true), isError: true);
            }

            return;
        }

        RemoveGrpcHeaders(response.Headers);
        if (code == 0 && !route.ServerStreaming)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json";
            var buffer = new ArrayBufferWriter<byte>();
            await using (var json = new Utf8JsonWriter(buffer))
            {
                ProtoJsonWriter.Write(json, route.Method.OutputType, _unary.Count > 0 ? _unary[^1] : []);
            }

            await body.Writer.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
        }
        else if (code == 0)
        {
            StartStream(); // a stream that ended before its first message: an empty body
        }
        else
        {
            response.StatusCode = HttpStatusOf(code);
            response.ContentType = "application/json";
            if (details?.Details.FirstOrDefault(d => d.Is(RetryInfo.Descriptor))?.Unpack<RetryInfo>() is { RetryDelay: { } delay })
            {
                response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(delay.ToTimeSpan().TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            var buffer = new ArrayBufferWriter<byte>();
            await using (var json = new Utf8JsonWriter(buffer))
            {
                WriteError(json, code, message, details, wrap: false);
            }

            await body.Writer.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
        }

        await body.CompleteAsync();
    }

    private static (int Code, string Message, Google.Rpc.Status? Details) ReadStatus(IHeaderDictionary trailers, IHeaderDictionary headers)
    {
        string? Get(string name) => trailers.TryGetValue(name, out var t) && t.Count > 0 ? t[0]
            : headers.TryGetValue(name, out var h) && h.Count > 0 ? h[0] : null;

        var code = int.TryParse(Get("grpc-status"), out var parsed) ? parsed : 2;
        var message = Uri.UnescapeDataString(Get("grpc-message") ?? "");
        Google.Rpc.Status? details = null;
        if (Get("grpc-status-details-bin") is { Length: > 0 } bin)
        {
            try
            {
                details = Google.Rpc.Status.Parser.ParseFrom(Convert.FromBase64String(bin.PadRight(bin.Length + ((4 - (bin.Length % 4)) % 4), '=')));
            }
            catch (Exception ex) when (ex is FormatException or InvalidProtocolBufferException)
            {
                details = null; // the status itself still says what happened
            }
        }

        return (code, message, details);
    }

    /// <summary>google.rpc.Status in proto3 JSON (details as Any with @type); in a stream wrapped as {"error": …}.</summary>
    private static void WriteError(Utf8JsonWriter json, int code, string message, Google.Rpc.Status? details, bool wrap)
    {
        var status = details ?? new Google.Rpc.Status();
        status.Code = code;
        status.Message = message;
        if (wrap)
        {
            json.WriteStartObject();
            json.WritePropertyName("error");
        }

        json.WriteRawValue(StatusFormatter.Format(status));
        if (wrap)
        {
            json.WriteEndObject();
        }
    }

    private static void RemoveGrpcHeaders(IHeaderDictionary headers)
    {
        foreach (var name in headers.Keys.Where(k => k.StartsWith("grpc-", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            headers.Remove(name);
        }
    }

    /// <summary>The HTTP status grpc-gateway maps each gRPC code to (runtime.HTTPStatusFromCode).</summary>
    internal static int HttpStatusOf(int code) => code switch
    {
        0 => 200,
        1 => 499,
        3 or 9 or 11 => 400,
        4 => 504,
        5 => 404,
        6 or 10 => 409,
        7 => 403,
        8 => 429,
        12 => 501,
        14 => 503,
        16 => 401,
        _ => 500,
    };
}
