// A frame in Kestrel's namespace, so an exception thrown here carries the stack trace of one Kestrel throws when the
// client resets the stream (RpcErrors tells the peer leaving from a bug by that frame; a real reset cannot be timed in a test).
namespace Microsoft.AspNetCore.Server.Kestrel.Testing;

internal static class KestrelFrames
{
    public static Exception Thrown(Exception exception)
    {
        try
        {
            throw exception;
        }
        catch (Exception caught)
        {
            return caught;
        }
    }
}
