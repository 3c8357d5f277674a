namespace DingTalk.CardGateway.Handlers;

/// <summary>How a frame sent from outside a text (<see cref="CardTypewriter.SendFrameAsync"/>) fared.</summary>
public enum FrameTurn
{
    /// <summary>Sent in the card's turn, at its pace.</summary>
    Sent,

    /// <summary>Not sent: this process is typing a text into the card (or has one waiting to).</summary>
    TextTyping,

    /// <summary>
    /// Not sent: the card did not come free within <see cref="CardTypewriter.FrameWait"/> — another replica holds its
    /// typing lease (typing a text, most likely), or frames ahead kept it.
    /// </summary>
    Busy,
}
