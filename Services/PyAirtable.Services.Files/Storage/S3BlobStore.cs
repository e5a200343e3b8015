using System.Net;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace PyAirtable.Services.Files.Storage;

/// <summary>
/// Blobs as objects of an S3-compatible store (<c>{Prefix}ab/abcd…</c>), for several hosts sharing one store. Large
/// blobs go up as multipart uploads read part by part from the staged file (memory stays at the SDK's buffers).
/// Path-style addressing, checksums only when required and no aws-chunked bodies, so S3 look-alikes that do not
/// decode aws-chunked (s3rver, the test suite's) store the bytes as sent.
/// </summary>
public sealed class S3BlobStore : IBlobStore, IDisposable
{
    private readonly AmazonS3Client _client;
    private readonly S3StorageOptions _options;
    private readonly SemaphoreSlim _bucketGate = new(1, 1);
    private volatile bool _bucketReady;

    public S3BlobStore(S3StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        var config = new AmazonS3Config
        {
            ForcePathStyle = true,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (!string.IsNullOrEmpty(options.ServiceUrl))
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }

        _client = string.IsNullOrEmpty(options.AccessKey)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config);
    }

    public async Task PutAsync(string sha256, string stagedPath, long size, CancellationToken ct)
    {
        await EnsureBucketAsync(ct);
        var key = KeyOf(sha256);
        if (size <= _options.PartSizeBytes)
        {
            await _client.PutObjectAsync(new PutObjectRequest
            {
                BucketName = _options.Bucket, Key = key, FilePath = stagedPath, UseChunkEncoding = false,
                ContentType = "application/octet-stream",
            }, ct);
            return;
        }

        var upload = await _client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest
        {
            BucketName = _options.Bucket, Key = key, ContentType = "application/octet-stream",
        }, ct);
        try
        {
            var parts = new List<PartETag>();
            var number = 1;
            for (long position = 0; position < size; position += _options.PartSizeBytes, number++)
            {
                var part = await _client.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = _options.Bucket, Key = key, UploadId = upload.UploadId, PartNumber = number,
                    FilePath = stagedPath, FilePosition = position, PartSize = Math.Min(_options.PartSizeBytes, size - position),
                    UseChunkEncoding = false,
                }, ct);
                parts.Add(new PartETag(number, part.ETag));
            }

            await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _options.Bucket, Key = key, UploadId = upload.UploadId, PartETags = parts,
            }, ct);
        }
        catch
        {
            await AbortQuietlyAsync(key, upload.UploadId);
            throw;
        }
    }

    public async Task<Stream> OpenReadAsync(string sha256, long offset, long length, CancellationToken ct)
    {
        if (length == 0)
        {
            return Stream.Null;
        }

        var response = await _client.GetObjectAsync(new GetObjectRequest
        {
            BucketName = _options.Bucket, Key = KeyOf(sha256), ByteRange = new ByteRange(offset, offset + length - 1),
        }, ct);
        return new LimitedStream(response.ResponseStream, length);
    }

    public async Task<bool> ExistsAsync(string sha256, CancellationToken ct)
    {
        try
        {
            await _client.GetObjectMetadataAsync(_options.Bucket, KeyOf(sha256), ct);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public Task DeleteAsync(string sha256, CancellationToken ct) =>
        _client.DeleteObjectAsync(_options.Bucket, KeyOf(sha256), ct);

    public void Dispose()
    {
        _client.Dispose();
        _bucketGate.Dispose();
    }

    private string KeyOf(string sha256) => $"{_options.Prefix}{sha256[..2]}/{sha256}";

    private async Task EnsureBucketAsync(CancellationToken ct)
    {
        if (_bucketReady)
        {
            return;
        }

        await _bucketGate.WaitAsync(ct);
        try
        {
            if (!_bucketReady)
            {
                try
                {
                    await _client.PutBucketAsync(new PutBucketRequest { BucketName = _options.Bucket }, ct);
                }
                catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.Conflict)
                {
                    // BucketAlreadyOwnedByYou / BucketAlreadyExists: it is there.
                }

                _bucketReady = true;
            }
        }
        finally
        {
            _bucketGate.Release();
        }
    }

    private async Task AbortQuietlyAsync(string key, string uploadId)
    {
        try
        {
            await _client.AbortMultipartUploadAsync(_options.Bucket, key, uploadId, CancellationToken.None);
        }
        catch (AmazonServiceException)
        {
            // Some S3 look-alikes (s3rver) cannot abort; the parts are only space there.
        }
    }
}
