namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>The test's hand on <see cref="GatedHandler"/>.</summary>
public sealed class HandlerGate
{
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Opened => _opened.Task;

    public void Open() => _opened.TrySetResult();
}
