namespace DingTalk.Sandbox.Stream;

/// <summary>
/// One frame the sandbox pushed (and pushes again while it is unanswered), with every answer it got.
/// <see cref="Answered"/> completes with the first well-formed answer.
/// </summary>
public sealed class SandboxStreamMessage
{
    private readonly Lock _gate;
    private readonly List<SandboxStreamAnswer> _answers = [];
    private readonly HashSet<int> _deliveredTo = [];
    private readonly TaskCompletionSource<SandboxStreamAnswer> _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _deliveries;

    internal SandboxStreamMessage(Lock gate, string messageId, string type, string topic, string data, string frameJson, int? onlyConnectionId)
    {
        _gate = gate;
        MessageId = messageId;
        Type = type;
        Topic = topic;
        Data = data;
        FrameJson = frameJson;
        OnlyConnectionId = onlyConnectionId;
    }

    public string MessageId { get; }

    /// <summary><c>SYSTEM</c>, <c>EVENT</c> or <c>CALLBACK</c>.</summary>
    public string Type { get; }

    public string Topic { get; }

    /// <summary>The frame's <c>data</c> string.</summary>
    public string Data { get; }

    /// <summary>Completes with the first well-formed answer (protocol errors do not count).</summary>
    public Task<SandboxStreamAnswer> Answered => _answered.Task;

    /// <summary>How many times the frame was written to a socket (redeliveries included).</summary>
    public int Deliveries
    {
        get
        {
            lock (_gate)
            {
                return _deliveries;
            }
        }
    }

    /// <summary>Every well-formed answer, in arrival order (DingTalk's redeliveries can earn several).</summary>
    public IReadOnlyList<SandboxStreamAnswer> Answers
    {
        get
        {
            lock (_gate)
            {
                return [.. _answers];
            }
        }
    }

    /// <summary>Answered, so not pushed again (an EVENT answered <c>LATER</c> is not settled).</summary>
    public bool IsSettled
    {
        get
        {
            lock (_gate)
            {
                return Settled;
            }
        }
    }

    internal string FrameJson { get; }

    /// <summary>Pings and disconnects belong to one connection and are never redelivered.</summary>
    internal int? OnlyConnectionId { get; }

    internal bool Settled { get; private set; }

    internal ITimer? RedeliveryTimer { get; set; }

    internal DateTimeOffset PushedAt { get; init; }

    /// <summary>Caller holds the stream's lock.</summary>
    internal void Delivered(int connectionId)
    {
        _deliveries++;
        _deliveredTo.Add(connectionId);
    }

    /// <summary>The write failed (the socket went). Caller holds the stream's lock.</summary>
    internal void NotDelivered() => _deliveries--;

    /// <summary>Caller holds the stream's lock.</summary>
    internal bool WasDeliveredTo(int connectionId) => _deliveredTo.Contains(connectionId);

    /// <summary>Caller holds the stream's lock.</summary>
    internal void Answer(SandboxStreamAnswer answer, bool settles)
    {
        _answers.Add(answer);
        if (settles && !Settled)
        {
            Settled = true;
            RedeliveryTimer?.Dispose();
            RedeliveryTimer = null;
        }

        _answered.TrySetResult(answer);
    }
}
