using System.Net;
using System.Net.Sockets;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>A loopback port nothing listens on (taken, then given back): every connection to it is refused, as to a DingTalk or a database that is not up.</summary>
public static class ClosedPort
{
    public static int Take()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
