using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// A loopback port in front of a real server (the fake DingTalk, PostgreSQL) that can be black-holed: while
/// <see cref="Hang"/> holds, it accepts connections, new ones too, and lets nothing through either way — a path that
/// drops packets without a reset, a server that accepts and never answers. <see cref="Release"/> lets what waited
/// through, as a healed network would; until then a call through it cannot end by an answer.
/// </summary>
public sealed class BlackHole : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<TcpClient> _sockets = [];
    private readonly Task _accepting;
    private TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _accepted;
    private int _held;

    private BlackHole(IPEndPoint target, bool hung)
    {
        _target = target;
        if (!hung)
        {
            _open.SetResult();
        }

        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>In front of <paramref name="target"/>, black-holed from the start when <paramref name="hung"/>.</summary>
    public static BlackHole Start(IPEndPoint target, bool hung) => new(target, hung);

    /// <summary>In front of the loopback server <paramref name="address"/> names (its port).</summary>
    public static BlackHole Start(Uri address, bool hung) => Start(new IPEndPoint(IPAddress.Loopback, address.Port), hung);

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Sends held back right now: a caller waiting for an answer that cannot come until <see cref="Release"/>.</summary>
    public int Held => Volatile.Read(ref _held);

    public void Hang()
    {
        if (_open.Task.IsCompleted)
        {
            Volatile.Write(ref _open, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }
    }

    public void Release() => Volatile.Read(ref _open).TrySetResult();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _sockets.Add(client);
            Interlocked.Increment(ref _accepted);
            _ = ConnectAsync(client);
        }
    }

    private async Task ConnectAsync(TcpClient client)
    {
        var server = new TcpClient();
        _sockets.Add(server);
        try
        {
            await server.ConnectAsync(_target, _stop.Token);
            await Task.WhenAny(PumpAsync(client.GetStream(), server.GetStream()), PumpAsync(server.GetStream(), client.GetStream()));
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // the far side or the test ended it
        }
        finally
        {
            client.Dispose();
            server.Dispose();
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to)
    {
        try
        {
            await PassAsync(from, to);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // either side ended it
        }
    }

    /// <summary>Passes what <paramref name="from"/> sends on to <paramref name="to"/>, each read held back while the hole is hung.</summary>
    private async Task PassAsync(NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
        {
            var open = Volatile.Read(ref _open).Task;
            if (!open.IsCompleted)
            {
                Interlocked.Increment(ref _held);
                try
                {
                    await open.WaitAsync(_stop.Token);
                }
                finally
                {
                    Interlocked.Decrement(ref _held);
                }
            }

            await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
        }
    }
}
